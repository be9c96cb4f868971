"""Registry of live instances, fed by heartbeats, and recovery of dead ones.

Each instance refreshes its score (the epoch ms its heartbeat expires) in a
sorted set per service. Callers read the set to answer "no responders" at
once; workers sweep the set for expired instances of their own service and
give the requests those instances had taken back to the queue.
"""

from __future__ import annotations

import os
import socket
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis

from common import json_codec
from common.keys import Keys
from common.rpc import scripts
from common.rpc.message import now_ms


@dataclass(frozen=True, slots=True)
class Recovery:
    """What was done with a dead instance's taken requests, counted by method."""

    instance: str
    requeued: dict[str, int]
    expired: dict[str, int]


class Registry:
    def __init__(self, redis: Redis, keys: Keys, *, ttl: float) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl_ms = int(ttl * 1000)
        self._recover = redis.register_script(scripts.RECOVER_INSTANCE)

    async def heartbeat(self, service: str, instance: str, info: dict[str, Any]) -> None:
        expires = now_ms() + self._ttl_ms
        described = {**info, "last_seen": time.time()}
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self._keys.instances(service), {instance: expires})
            pipe.set(
                self._keys.instance_info(service, instance),
                json_codec.dumps(described),
                px=self._ttl_ms,
            )
            pipe.sadd(self._keys.services, service)
            await pipe.execute()

    async def leave(self, service: str, instance: str) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zrem(self._keys.instances(service), instance)
            pipe.delete(self._keys.instance_info(service, instance))
            await pipe.execute()

    async def live_count(self, service: str) -> int:
        return int(await self._redis.zcount(self._keys.instances(service), now_ms(), "+inf"))

    async def live_instances(self) -> dict[str, list[dict[str, Any]]]:
        """Every live instance of every service, with what it said about itself."""
        members = cast(set[bytes], await self._redis.smembers(self._keys.services))
        services = sorted(member.decode() for member in members)
        now = now_ms()
        async with self._redis.pipeline(transaction=False) as pipe:
            for service in services:
                pipe.zrangebyscore(self._keys.instances(service), now, "+inf")
            ids_by_service = await pipe.execute()
        async with self._redis.pipeline(transaction=False) as pipe:
            for service, ids in zip(services, ids_by_service, strict=True):
                for instance in ids:
                    pipe.get(self._keys.instance_info(service, instance.decode()))
            infos = iter(await pipe.execute())
        result: dict[str, list[dict[str, Any]]] = {}
        for service, ids in zip(services, ids_by_service, strict=True):
            result[service] = [
                {"instance": instance.decode(), **(json_codec.loads(raw) if raw else {})}
                for instance, raw in zip(ids, infos, strict=False)
            ]
        return result

    async def forget_dead_callers(self, service: str, *, dead_for_ms: int) -> list[str]:
        """Drop the entries and reply lists of callers (gateways) dead this long.

        A caller takes no requests, so nothing needs recovering: what it leaves
        is its registry entry, and a reply list that the replies still on their
        way would otherwise keep alive for their TTL. Long dead means no reply
        for it can still be awaited: a caller's every call ends by its deadline.
        """
        key = self._keys.instances(service)
        dead = await self._redis.zrangebyscore(key, "-inf", now_ms() - dead_for_ms)
        instances = [raw.decode() for raw in cast(list[bytes], dead)]
        if instances:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zrem(key, *instances)
                pipe.delete(*(self._keys.reply_queue(instance) for instance in instances))
                await pipe.execute()
        return instances

    async def recover_dead(self, service: str) -> list[Recovery]:
        """Hand back the work of every expired instance of ``service``."""
        now = now_ms()
        dead = await self._redis.zrangebyscore(self._keys.instances(service), "-inf", now)
        recoveries = []
        for raw_id in cast(list[bytes], dead):
            instance = raw_id.decode()
            outcome = await self._recover(
                keys=[
                    self._keys.instances(service),
                    self._keys.processing(service, instance),
                    self._keys.request_queue(service),
                    self._keys.instance_info(service, instance),
                ],
                args=[instance, now],
            )
            if outcome == 0:
                continue  # it came back to life
            requeued, expired = outcome
            recoveries.append(
                Recovery(
                    instance,
                    dict(Counter(m.decode() for m in requeued)),
                    dict(Counter(m.decode() for m in expired)),
                )
            )
        return recoveries


def describe_process(service: str) -> dict[str, Any]:
    return {
        "service": service,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started_at": time.time(),
    }


def new_instance_id(service: str) -> str:
    return f"{service}-{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"
