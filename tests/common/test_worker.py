"""Worker lifecycle in one process: it stops within its drain time, idle or busy.

The worker runs against the real PostgreSQL and Redis with one method,
``auth.hold``, that answers only when the test releases it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from redis.asyncio import Redis

from common.config import Settings
from common.keys import Keys
from common.rpc.message import Reply, Request, now_ms
from common.rpc.registry import Registry
from common.rpc.server import Method
from common.worker import Worker, WorkerContext
from tests.e2e.stack import free_port

SERVICE = "auth"
# Enough workers to catch a stop that is lost about once in a dozen.
STOP_CYCLES = 30
# Slack on top of the drain time for a loaded machine; a lost stop never ends.
STOP_SLACK_SECONDS = 5.0


@dataclass
class Gate:
    """What ``auth.hold`` waits for, and how the test knows it has started."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    started: asyncio.Event = field(default_factory=asyncio.Event)

    def methods(self, ctx: WorkerContext) -> dict[str, Method]:
        async def hold(params: dict[str, Any], request: Request) -> dict[str, bool]:
            self.started.set()
            await self.release.wait()
            return {"held": True}

        return {"auth.hold": Method(hold)}


class Running:
    """A Worker in a task of this loop; ``stopped_within`` bounds its stop."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.task = asyncio.create_task(worker.run(install_signal_handlers=False))

    async def ready(self) -> None:
        async with asyncio.timeout(20):
            while self.worker.health_port is None:
                assert not self.task.done(), self.task
                await asyncio.sleep(0.01)

    async def stopped_within(self, seconds: float) -> float:
        began = time.monotonic()
        done, _ = await asyncio.wait({self.task}, timeout=seconds)
        assert done, f"worker still running {seconds:.1f}s after stop()"
        self.task.result()
        return time.monotonic() - began

    async def kill(self) -> None:
        """Teardown after a failure: insist until the task is gone."""
        while not self.task.done():
            self.task.cancel()
            await asyncio.wait({self.task}, timeout=0.1)


@pytest.fixture
async def start_worker(
    settings_factory: Callable[..., Settings], migrated: str
) -> AsyncIterator[Callable[..., Any]]:
    """Starts workers on free health ports; any still running are ended afterwards."""
    started: list[Running] = []

    async def start(gate: Gate, **env: str) -> Running:
        settings = settings_factory(AUTH_HEALTH_PORT=str(free_port()), **env)
        running = Running(Worker(settings, SERVICE, gate.methods))
        started.append(running)
        await running.ready()
        return running

    yield start
    for running in started:
        await running.kill()


async def send_hold(redis: Redis, keys: Keys) -> Request:
    request = Request(
        method="auth.hold",
        params={},
        reply_to=f"{keys.prefix}:reply:test",
        deadline=now_ms() + 60_000,
    )
    await redis.lpush(keys.request_queue(SERVICE), request.encode())
    return request


async def test_idle_workers_stop_within_their_drain_time_every_time(
    start_worker: Callable[..., Any],
):
    # Many workers at once, each told to stop at a random moment of its
    # heartbeat cycle; heartbeats every 5 ms keep maintenance inside Redis calls.
    workers = await asyncio.gather(
        *(
            start_worker(Gate(), HEARTBEAT_INTERVAL="5ms", DRAIN_TIMEOUT="2s")
            for _ in range(STOP_CYCLES)
        )
    )

    async def stop_later(running: Running) -> float:
        await asyncio.sleep(random.uniform(0, 0.3))
        running.worker.stop()
        return await running.stopped_within(2 + STOP_SLACK_SECONDS)

    await asyncio.gather(*(stop_later(running) for running in workers))
    assert [running.worker.abandoned for running in workers] == [0] * STOP_CYCLES


async def test_a_stop_is_not_lost_when_a_redis_call_swallows_the_cancel(
    start_worker: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
):
    """The cause of the stops lost about once in a dozen.

    On Python 3.11 ``asyncio.wait_for`` returns the result and drops a cancel
    that arrives as the awaited operation completes (fixed in 3.12), and
    redis-py sends every command through it; a worker that stopped by
    cancelling its maintenance task then ran that loop for ever. Here the
    heartbeat drops every cancel, deterministically.
    """
    heartbeat = Registry.heartbeat

    async def swallowing(self: Registry, *args: Any) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat(self, *args)
            await asyncio.sleep(0.005)

    monkeypatch.setattr(Registry, "heartbeat", swallowing)
    running = await start_worker(Gate(), HEARTBEAT_INTERVAL="5ms", DRAIN_TIMEOUT="2s")
    await asyncio.sleep(0.1)
    running.worker.stop()
    await running.stopped_within(2 + STOP_SLACK_SECONDS)


async def test_a_busy_worker_answers_what_it_took_then_stops(
    start_worker: Callable[..., Any], redis: Redis, keys: Keys
):
    gate = Gate()
    running = await start_worker(gate)
    request = await send_hold(redis, keys)
    async with asyncio.timeout(10):
        await gate.started.wait()
    running.worker.stop()
    asyncio.get_running_loop().call_later(0.3, gate.release.set)
    await running.stopped_within(10 + STOP_SLACK_SECONDS)

    assert running.worker.abandoned == 0
    popped = await redis.brpop([request.reply_to], timeout=5)
    assert popped is not None
    reply = Reply.decode(popped[1])
    assert (reply.id, reply.ok) == (request.id, True)


async def _abandoned_on_stop(
    start_worker: Callable[..., Any],
    redis: Redis,
    keys: Keys,
    stop: Callable[[Worker], None],
    bound: float,
    **env: str,
) -> Running:
    gate = Gate()
    running = await start_worker(gate, **env)
    await send_hold(redis, keys)
    async with asyncio.timeout(10):
        await gate.started.wait()
    stop(running.worker)
    await running.stopped_within(bound)
    assert running.worker.abandoned == 1
    # Not lost: still in the processing list, and the instance did not leave
    # the registry, so a surviving instance hands it back once it expires.
    processing = keys.processing(SERVICE, running.worker.instance)
    assert await redis.llen(processing) == 1
    assert await redis.zscore(keys.instances(SERVICE), running.worker.instance) is not None
    return running


async def test_the_drain_time_bounds_a_stop(
    start_worker: Callable[..., Any], redis: Redis, keys: Keys
):
    began = time.monotonic()
    await _abandoned_on_stop(
        start_worker, redis, keys, Worker.stop, 0.5 + STOP_SLACK_SECONDS, DRAIN_TIMEOUT="500ms"
    )
    assert time.monotonic() - began >= 0.5


async def test_a_second_stop_during_the_drain_ends_it_at_once(
    start_worker: Callable[..., Any], redis: Redis, keys: Keys
):
    def stop_twice(worker: Worker) -> None:
        worker.stop()
        asyncio.get_running_loop().call_later(0.2, worker.stop)

    # A drain time far beyond the bound: only the second stop can end it in time.
    await _abandoned_on_stop(
        start_worker, redis, keys, stop_twice, STOP_SLACK_SECONDS, DRAIN_TIMEOUT="120s"
    )


async def test_a_failed_start_closes_what_it_opened(
    settings_factory: Callable[..., Settings], migrated: str, pool: Any
) -> None:
    """A worker whose health port is taken exits with the error and leaves no
    database connection behind (a leaked pool would also warn at collection)."""

    async def connections() -> int:
        async with pool.acquire() as conn:
            count: int = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            )
        return count

    before = await connections()
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))  # noqa: S104
        taken.listen()
        port = taken.getsockname()[1]
        worker = Worker(settings_factory(AUTH_HEALTH_PORT=str(port)), SERVICE, Gate().methods)
        with pytest.raises(OSError, match="address already in use"):
            await worker.run(install_signal_handlers=False)

    # The pool's connections end as the server notices: allow it a moment.
    for _ in range(100):
        if await connections() <= before:
            break
        await asyncio.sleep(0.05)
    assert await connections() <= before
