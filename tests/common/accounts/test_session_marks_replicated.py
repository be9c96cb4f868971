"""Session marks under replica confirmation: an end no replica confirmed is not an end."""

from __future__ import annotations

import signal
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bench.sentinel_servers import SentinelTopology
from common.accounts.sessions import SessionCache
from common.config.rpc import ReplicaWait
from common.keys import Keys
from common.replication import NotReplicated, ReplicaConfirm


@pytest.fixture
async def primary(sentinel_topology: SentinelTopology) -> AsyncIterator[Redis]:
    client = Redis(port=sentinel_topology.primary.port)
    yield client
    await client.aclose()


async def test_an_end_confirmed_by_the_replica_is_on_the_replica(
    primary: Redis, sentinel_topology: SentinelTopology
) -> None:
    keys = Keys("marks")
    cache = SessionCache(primary, keys, ReplicaConfirm(primary, ReplicaWait(1, timeout=5.0)))
    await cache.mark_live(7, 42, time.time() + 60)
    await cache.mark_ended([(7, time.time() + 60)])

    async with Redis(port=sentinel_topology.replica.port) as replica:
        assert await replica.get(keys.session(7)) == b"0"


async def test_an_end_no_replica_confirmed_raises(
    primary: Redis, sentinel_topology: SentinelTopology
) -> None:
    keys = Keys("marks")
    patient = SessionCache(primary, keys, ReplicaConfirm(primary, ReplicaWait(1, timeout=5.0)))
    await patient.mark_live(8, 42, time.time() + 60)  # the replica is caught up
    cache = SessionCache(primary, keys, ReplicaConfirm(primary, ReplicaWait(1, timeout=0.2)))
    await cache.mark_live(9, 42, time.time() + 60)
    popen = sentinel_topology.replica.popen
    assert popen is not None
    popen.send_signal(signal.SIGSTOP)
    try:
        # A live mark lost in a failover is only a miss: no error for it.
        await cache.mark_live(10, 42, time.time() + 60)
        # An end lost in a failover would bring the session back: the caller
        # (SessionEnder, inside the PostgreSQL transaction) answers 503 and rolls back.
        with pytest.raises(NotReplicated):
            await cache.mark_ended([(9, time.time() + 60)])
    finally:
        popen.send_signal(signal.SIGCONT)
    # The primary refuses the session meanwhile: the safe side.
    assert await primary.get(keys.session(9)) == b"0"
