"""WAIT behind the writes that must survive a failover, against real Redis servers."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bench.sentinel_servers import SentinelTopology
from common.config.rpc import ReplicaWait
from common.replication import ReplicaConfirm

INCREMENT = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


@pytest.fixture
async def primary(sentinel_topology: SentinelTopology) -> AsyncIterator[Redis]:
    client = Redis(port=sentinel_topology.primary.port)
    yield client
    await client.aclose()


async def replica_value(topology: SentinelTopology, key: str) -> bytes | None:
    async with Redis(port=topology.replica.port) as replica:
        value: bytes | None = await replica.get(key)
        return value


async def test_a_confirmed_script_is_on_the_replica_when_it_returns(
    primary: Redis, sentinel_topology: SentinelTopology
) -> None:
    confirm = ReplicaConfirm(primary, ReplicaWait(replicas=1, timeout=2.0))
    increment = confirm.script(primary.register_script(INCREMENT), what="test")

    result, confirmed = await increment.run(["counter"], [5])

    assert (result, confirmed) == (5, True)
    # No sleep: WAIT returned only once the replica held the write.
    assert await replica_value(sentinel_topology, "counter") == b"5"
    assert confirm.unconfirmed == 0


async def test_a_confirmed_pipeline_is_on_the_replica_when_it_returns(
    primary: Redis, sentinel_topology: SentinelTopology
) -> None:
    confirm = ReplicaConfirm(primary, ReplicaWait(replicas=1, timeout=2.0))
    async with primary.pipeline(transaction=False) as pipe:
        pipe.set("session", "42")
        pipe.set("other", "0")
        results, confirmed = await confirm.execute(pipe, what="test")

    assert (results, confirmed) == ([True, True], True)
    assert await replica_value(sentinel_topology, "session") == b"42"


async def test_a_stalled_replica_is_reported_not_hidden(
    primary: Redis, sentinel_topology: SentinelTopology
) -> None:
    script = primary.register_script(INCREMENT)
    patient = ReplicaConfirm(primary, ReplicaWait(replicas=1, timeout=5.0))
    assert await patient.script(script, what="test").run(["counter"], [1]) == (1, True)
    confirm = ReplicaConfirm(primary, ReplicaWait(replicas=1, timeout=0.2))
    increment = confirm.script(script, what="test")
    assert await increment.run(["counter"], [0]) == (1, True)  # and counts the replica
    popen = sentinel_topology.replica.popen
    assert popen is not None
    popen.send_signal(signal.SIGSTOP)
    # The signal is delivered asynchronously: until the kernel shows the replica
    # stopped, it may still acknowledge the write.
    for _ in range(200):
        if _process_state(popen.pid) == "T":
            break
        await asyncio.sleep(0.01)
    try:
        result, confirmed = await increment.run(["counter"], [1])
    finally:
        popen.send_signal(signal.SIGCONT)

    # The write is on the primary, but nothing says it would survive a failover.
    assert (result, confirmed) == (2, False)
    assert confirm.unconfirmed == 1


async def test_a_script_missing_from_the_cache_is_loaded_again(primary: Redis) -> None:
    confirm = ReplicaConfirm(primary, ReplicaWait(replicas=1, timeout=2.0))
    increment = confirm.script(primary.register_script(INCREMENT), what="test")
    await increment.run(["counter"], [1])
    # What a replica promoted by a failover looks like: an empty script cache.
    await primary.script_flush()

    assert await increment(keys=["counter"], args=[1]) == 2


async def test_without_replicas_writes_do_not_wait(redis: Redis, prefix: str) -> None:
    # The suite's lone Redis has no replica: waiting for one would add the
    # whole timeout to every write; a minute proves it did not wait.
    confirm = ReplicaConfirm(redis, ReplicaWait(replicas=1, timeout=60.0))
    increment = confirm.script(redis.register_script(INCREMENT), what="test")

    result, confirmed = await increment.run([f"{prefix}:counter"], [3])

    assert (result, confirmed) == (3, True)


async def test_switched_off_it_is_the_plain_script(redis: Redis, prefix: str) -> None:
    confirm = ReplicaConfirm(redis, ReplicaWait(replicas=0))
    increment = confirm.script(redis.register_script(INCREMENT), what="test")

    assert await increment(keys=[f"{prefix}:counter"], args=[4]) == 4


def _process_state(pid: int) -> str:
    """The state letter of /proc/<pid>/stat (R, S, T, ...)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0]
