"""Round trips per second of a trivial RPC method, through a real Redis.

    python -m bench.rpc_roundtrip [--seconds 3] [--rounds 3] [--inflight 1,64]

A worker process serves ``bench.echo``; this process calls it from N
concurrent tasks for a fixed time and counts replies. Two servers are
compared in the same run: ``reliable`` is Gatehouse's RpcServer (requests
moved into a processing list, acknowledged with the reply), ``plain`` the
same server with the reliability taken out (pop and reply only), so the
ratio is the cost of crash safety. Prints the median of the rounds.

Needs REDIS_URL (default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis

from common import event_loop
from common.keys import Keys
from common.redis_client import blocking_client, command_client
from common.rpc.client import REPLY_BLOCK_SECONDS, RpcClient
from common.rpc.message import Request
from common.rpc.registry import Registry
from common.rpc.server import TAKE_BLOCK_SECONDS, Method, RpcServer, _Outgoing

SERVICE = "bench"


async def echo(params: dict[str, Any], request: Request) -> dict[str, Any]:
    return params


class PlainServer(RpcServer):
    """RpcServer without the processing list: what an unreliable design costs."""

    async def _take_requests(self, room: int) -> list[bytes]:
        taken = await self._redis.rpop(self._queue, room)
        if taken:
            return cast(list[bytes], taken)
        popped = await self._blocking_redis.brpop([self._queue], TAKE_BLOCK_SECONDS)
        return [cast(bytes, popped[1])] if popped else []

    async def _send_replies(self, batch: list[_Outgoing]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for item in batch:
                pipe.lpush(item.request.reply_to, item.raw_reply)
            await pipe.execute()


def serve(redis_url: str, prefix: str, variant: str, ready: Any, stop: Any) -> None:
    async def main() -> None:
        keys = Keys(prefix)
        redis = command_client(redis_url)
        blocking = blocking_client(redis_url, block_seconds=TAKE_BLOCK_SECONDS)
        server_class = PlainServer if variant == "plain" else RpcServer
        server = server_class(
            redis,
            blocking,
            keys,
            SERVICE,
            f"bench-{os.getpid()}",
            {"bench.echo": Method(echo)},
            concurrency=64,
        )
        await Registry(redis, keys, ttl=3600).heartbeat(SERVICE, server.instance, {})
        task = asyncio.create_task(server.run())
        ready.set()
        await asyncio.to_thread(stop.wait)
        server.stop()
        await task
        await redis.aclose()
        await blocking.aclose()

    event_loop.run(main())


@dataclass
class CallResult:
    calls: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0


CallOnce = Callable[[int], Awaitable[Any]]


async def drive_calls(call: CallOnce, inflight: int, seconds: float) -> CallResult:
    """``inflight`` tasks calling back to back for ``seconds``; every call's latency."""
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def caller() -> None:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            await call(len(latencies))
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(inflight)))
    return CallResult(len(latencies), time.perf_counter() - began, latencies)


@asynccontextmanager
async def gatehouse_caller(redis_url: str, prefix: str) -> AsyncIterator[CallOnce]:
    """``bench.echo`` through the product's RpcClient, started and closed around the block."""
    keys = Keys(prefix)
    redis = command_client(redis_url)
    blocking = blocking_client(redis_url, block_seconds=REPLY_BLOCK_SECONDS)
    client = RpcClient(
        redis,
        blocking,
        keys,
        Registry(redis, keys, ttl=3600),
        f"bench-client-{uuid.uuid4().hex}",
        default_timeout=10,
        max_inflight=10_000,
        max_queue_length=1_000_000,
    )
    await client.start()

    async def call(n: int) -> Any:
        return await client.call("bench.echo", {"n": n})

    try:
        yield call
    finally:
        await client.close()
        await redis.aclose()
        await blocking.aclose()


async def measure(redis_url: str, prefix: str, inflight: int, seconds: float) -> float:
    async with gatehouse_caller(redis_url, prefix) as call:
        return (await drive_calls(call, inflight, seconds)).rate


async def cleanup(redis_url: str, prefix: str) -> None:
    redis = Redis.from_url(redis_url)
    async for key in redis.scan_iter(match=f"{prefix}:*"):
        await redis.delete(key)
    await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--inflight", default="1,64")
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    levels = [int(level) for level in args.inflight.split(",")]

    results: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.rounds):
        for variant in ("plain", "reliable"):
            prefix = f"bench-{uuid.uuid4().hex[:8]}"
            ready, stop = multiprocessing.Event(), multiprocessing.Event()
            worker = multiprocessing.Process(
                target=serve, args=(redis_url, prefix, variant, ready, stop)
            )
            worker.start()
            ready.wait(10)
            for level in levels:
                rate = asyncio.run(measure(redis_url, prefix, level, args.seconds))
                results.setdefault((variant, level), []).append(rate)
            stop.set()
            worker.join(10)
            asyncio.run(cleanup(redis_url, prefix))

    print(f"round trips/s, median of {args.rounds} rounds of {args.seconds:g}s, one worker process")
    print(f"{'in flight':>10} {'plain':>10} {'reliable':>10} {'reliable/plain':>15}")
    for level in levels:
        plain = statistics.median(results[("plain", level)])
        reliable = statistics.median(results[("reliable", level)])
        print(f"{level:>10} {plain:>10.0f} {reliable:>10.0f} {reliable / plain:>15.2f}")


if __name__ == "__main__":
    main()
