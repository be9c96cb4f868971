"""Writes confirmed by a replica before they count, so that a failover keeps them.

Redis replicates asynchronously: a primary killed right after a write may
take the write with it, and the replica promoted in its place never saw it.
``WAIT n ms``, sent on the same connection right behind the write (one
pipeline, so no extra round trip), returns once ``n`` replicas hold every
write of that connection, or after ``ms`` with how many do. That narrows the
window to the time the replica takes to acknowledge; it does not make Redis a
consensus store (see the README's topology table).

The primary is asked how many replicas it has (``ROLE``) at most once a
second: waiting for a replica that does not exist (a lone primary, or the
promoted one before its old primary returns as a replica) would only add the
timeout to every write, so the wait asks for as many as are connected, up to
the setting, and none when there are none.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from loguru import logger
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError

from common.config.rpc import ReplicaWait


class NotReplicated(RedisError):
    """A write no replica confirmed in time: as good as lost, should a failover follow."""


# How long a count of connected replicas is trusted.
ROLE_REFRESH_SECONDS = 1.0


class ReplicaConfirm:
    """One per process and Redis client: adds ``WAIT`` to writes that must survive."""

    def __init__(self, redis: Redis, settings: ReplicaWait) -> None:
        self._redis = redis
        self._settings = settings
        self._replicas = settings.replicas
        self._checked_at = float("-inf")
        self._checking: asyncio.Lock | None = None
        self.unconfirmed = 0

    @property
    def enabled(self) -> bool:
        return self._settings.enabled

    def script(self, script: AsyncScript, *, what: str) -> ConfirmedScript:
        """``script``, each run of it confirmed by a replica; called like the script."""
        return ConfirmedScript(self, script, what)

    async def execute(
        self, pipe: Pipeline | ClusterPipeline, *, what: str
    ) -> tuple[list[Any], bool]:
        """Run ``pipe`` with a ``WAIT`` behind it: its results, and whether a replica
        (as many as the setting asks, of those connected) holds them."""
        wanted = await self._replicas_to_wait_for()
        if wanted:
            pipe.execute_command("WAIT", wanted, self._timeout_ms)
        results = await pipe.execute()
        if not wanted:
            return results, True
        confirmed = int(results.pop()) >= wanted
        if not confirmed:
            self._not_confirmed(what, wanted)
        return results, confirmed

    @property
    def _timeout_ms(self) -> int:
        return max(1, round(self._settings.timeout * 1000))

    def _not_confirmed(self, what: str, wanted: int) -> None:
        self.unconfirmed += 1
        logger.warning(
            "{} not confirmed by {} replica(s) within {} ms", what, wanted, self._timeout_ms
        )
        # Perhaps the replica is gone: count them again before the next write.
        self._checked_at = float("-inf")

    async def _replicas_to_wait_for(self) -> int:
        if not self._settings.enabled:
            return 0
        if time.monotonic() - self._checked_at > ROLE_REFRESH_SECONDS:
            if self._checking is None:
                self._checking = asyncio.Lock()
            async with self._checking:
                if time.monotonic() - self._checked_at > ROLE_REFRESH_SECONDS:
                    await self._count_replicas()
        return min(self._settings.replicas, self._replicas)

    async def _count_replicas(self) -> None:
        try:
            role = await self._redis.execute_command("ROLE")  # type: ignore[no-untyped-call]
        except RedisError as exc:
            # The write itself will meet the same outage and report it; keep the
            # last count, so that a write that gets through is still confirmed.
            logger.debug("could not count replicas: {}", exc)
            return
        self._replicas = len(role[2]) if role and role[0] in (b"master", "master") else 0
        self._checked_at = time.monotonic()


class ConfirmedScript:
    """A registered Lua script whose every run is followed by ``WAIT`` in one round trip."""

    def __init__(self, confirm: ReplicaConfirm, script: AsyncScript, what: str) -> None:
        self._confirm = confirm
        self._script = script
        self._what = what

    async def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> Any:
        """The script's answer; a shortfall of replicas is logged and counted, not raised."""
        if not self._confirm.enabled:
            return await self._script(keys=keys, args=args)
        result, _ = await self.run(keys, args)
        return result

    async def run(self, keys: Sequence[Any], args: Sequence[Any]) -> tuple[Any, bool]:
        """The script's answer and whether a replica confirmed it."""
        script = self._script
        for attempt in (1, 2):
            async with script.registered_client.pipeline(transaction=False) as pipe:
                # EVALSHA itself rather than the pipeline's script support, which
                # sends SCRIPT EXISTS first: one more round trip on every run.
                pipe.evalsha(script.sha, len(keys), *keys, *args)
                try:
                    results, confirmed = await self._confirm.execute(pipe, what=self._what)
                except NoScriptError:
                    # A promoted replica (or a restarted Redis) has an empty script cache.
                    if attempt == 2:
                        raise
                    script.sha = await script.registered_client.script_load(script.script)
                    continue
            return results[0], confirmed
        raise AssertionError("unreachable")
