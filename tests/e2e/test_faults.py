"""Fault injection against real processes: crashes, Redis and PostgreSQL restarts.

Figures (requests, responses by status, rows) are printed; run with ``-s``
to see them.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from common.ops.embedded import EmbeddedPostgres, EmbeddedRedis
from tests.conftest import RUN_ID, Servers, scratch_folder
from tests.e2e.stack import Stack, free_port, full_stack

ALLOWED_UNDER_FAULT = {201, 409, 503, 504}


def usernames(stem: str, count: int) -> list[str]:
    return [f"{stem}{RUN_ID}_{i}" for i in range(count)]


async def register(client: httpx.AsyncClient, name: str) -> tuple[str, int]:
    response = await client.post(
        "/api/users/register",
        json={"username": name, "email": f"{name}@example.com", "password": "secret123"},
    )
    return name, response.status_code


async def existing(database_url: str, names: list[str]) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT username FROM users WHERE username = ANY($1)", names)
    finally:
        await conn.close()
    return [row["username"] for row in rows]


class Load:
    """Registrations from ``workers`` concurrent loops until stopped."""

    def __init__(self, client: httpx.AsyncClient, stem: str, workers: int = 8) -> None:
        self._client = client
        self._stem = stem
        self._workers = workers
        self._stop = asyncio.Event()
        self.results: list[tuple[str, int]] = []
        # (monotonic start, status) of each call, to tell calls made during an
        # outage from calls that were in flight when it began.
        self.timed: list[tuple[float, int]] = []
        self._tasks: list[asyncio.Task[None]] = []

    def made_between(self, begin: float, end: float) -> Counter[int]:
        """Statuses of the calls that started in [begin, end) and have answered."""
        return Counter(status for started, status in self.timed if begin <= started < end)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(n)) for n in range(self._workers)]

    async def stop(self) -> list[tuple[str, int]]:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        return self.results

    async def _loop(self, worker: int) -> None:
        sequence = 0
        while not self._stop.is_set():
            name = f"{self._stem}{RUN_ID}_{worker}_{sequence}"
            sequence += 1
            started = time.monotonic()
            try:
                self.results.append(await register(self._client, name))
            except httpx.TransportError:
                self.results.append((name, 0))
            self.timed.append((started, self.results[-1][1]))
            await asyncio.sleep(0.01)


async def until_registration_succeeds(client: httpx.AsyncClient, stem: str) -> None:
    for attempt in range(200):
        _, status = await register(client, f"{stem}{RUN_ID}_{attempt}")
        if status == 201:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("service did not resume")


async def test_kill_9_of_a_user_worker_loses_nothing(
    stack_factory: Callable[..., Stack], servers: Servers
) -> None:
    # Slow enough hashing that each worker holds requests in flight when one dies.
    stack = stack_factory(RPC_TIMEOUT="20", BCRYPT_ROUNDS="8")
    victim = stack.start("user")
    survivor = stack.start("user")
    stack.start("auth")
    stack.start("gateway")
    stack.wait_for_instances("user", 2)
    stack.wait_for_instances("auth", 1)
    names = usernames("kill9_", 500)
    done = 0
    killed = asyncio.Event()

    async def counted(client: httpx.AsyncClient, name: str) -> tuple[str, int]:
        nonlocal done
        result = await register(client, name)
        done += 1
        if done == 50 and not killed.is_set():
            os.kill(victim.pid, signal.SIGKILL)
            killed.set()
        return result

    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=stack.url, timeout=30, limits=limits) as client:
        results = await asyncio.gather(*(counted(client, name) for name in names))

    statuses = Counter(status for _, status in results)
    created = await existing(servers.database_url, names)
    async with httpx.AsyncClient(timeout=5) as probe:
        health = (await probe.get(f"{stack.url}/health")).json()
    # The survivor's log, not its health port, tells what it recovered.
    redelivered = sum(
        int(count)
        for count in re.findall(
            r"is gone: (\d+) request\(s\) requeued", survivor.log.read_text(errors="replace")
        )
    )
    print(
        f"\nkill -9: {len(names)} requests, responses {dict(statuses)}, rows {len(created)}, "
        f"redelivered {redelivered}"
    )
    assert killed.is_set()
    assert victim.wait(5) == -signal.SIGKILL
    assert len(results) == len(names)
    assert set(statuses) <= ALLOWED_UNDER_FAULT
    assert len(created) == statuses[201]
    assert len(set(created)) == len(created)
    assert {name for name, status in results if status == 201} == set(created)
    assert health["dependencies"]["user"]["instances"] == 1
    assert redelivered >= 1, "the victim's taken requests were given back to the queue"


@pytest.fixture
def own_redis(tmp_path: Path) -> EmbeddedRedis:
    server = EmbeddedRedis(tmp_path / "redis", port=free_port(), persist=False)
    server.start()
    yield server
    server.stop()


async def test_redis_restart_under_load(
    stack_factory: Callable[..., Stack], servers: Servers, own_redis: EmbeddedRedis
) -> None:
    stack = full_stack(
        stack_factory(REDIS_URL=f"redis://127.0.0.1:{own_redis.port}/0", RPC_TIMEOUT="2")
    )
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as client:
        load = Load(client, "redisrestart_")
        load.start()
        await asyncio.sleep(1.0)
        own_redis.kill()
        down = time.monotonic()
        # Longer than RPC_TIMEOUT, so that loops held by a call in flight at the
        # kill (504 at its deadline) also make calls during the outage.
        await asyncio.sleep(2.5)
        health_during = (await client.get("/health")).status_code
        # Calls made while Redis is down answer at once; calls in flight when it
        # went down may wait for their deadline (504), which is theirs to do.
        during = load.made_between(down, time.monotonic())
        own_redis.start()
        await asyncio.sleep(0.5)
        await until_registration_succeeds(client, "afterredis_")
        await asyncio.sleep(1.0)
        results = await load.stop()

    statuses = Counter(status for _, status in results)
    created = set(await existing(servers.database_url, [name for name, _ in results]))
    print(
        f"\nredis restart: {len(results)} requests, responses {dict(statuses)}, rows {len(created)}"
    )
    assert all(process.running() for process in stack.processes)
    assert set(statuses) <= {201, 503, 504}
    assert during, "no call was made during the outage"
    assert set(during) <= {503}, "calls during the outage must fail fast with 503"
    assert health_during == 503
    assert {name for name, status in results if status == 201} <= created
    assert results[-1][1] == 201


@pytest.fixture
def own_postgres() -> Iterator[EmbeddedPostgres]:
    # Not under tmp_path: run as root, the server's own user must reach it.
    with scratch_folder("gatehouse-own-postgres-") as folder:
        server = EmbeddedPostgres(folder / "postgres")
        server.start()
        yield server
        server.stop()


async def test_postgres_restart_under_load(
    stack_factory: Callable[..., Stack], own_postgres: EmbeddedPostgres
) -> None:
    database_url = own_postgres.start()
    stack = full_stack(stack_factory(DATABASE_URL=database_url, RPC_TIMEOUT="3"))
    user_worker = next(p for p in stack.processes if p.service == "user")
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as client:
        load = Load(client, "pgrestart_")
        load.start()
        await asyncio.sleep(1.0)
        own_postgres.stop()
        down = time.monotonic()
        await asyncio.sleep(1.0)
        worker_health_during = (await client.get(f"{user_worker.url}/health")).status_code
        during = load.made_between(down, time.monotonic())
        own_postgres.start()
        await until_registration_succeeds(client, "afterpg_")
        await asyncio.sleep(1.0)
        results = await load.stop()
        worker_health_after = (await client.get(f"{user_worker.url}/health")).status_code

    statuses = Counter(status for _, status in results)
    created = set(await existing(database_url, [name for name, _ in results]))
    print(
        f"\npostgres restart: {len(results)} requests, responses {dict(statuses)}, "
        f"rows {len(created)}"
    )
    assert all(process.running() for process in stack.processes)
    assert set(statuses) <= {201, 503, 504}
    assert during, "no call was made during the outage"
    assert set(during) <= {503}, "calls during the outage must fail fast with 503"
    assert worker_health_during == 503
    assert worker_health_after == 200
    assert {name for name, status in results if status == 201} <= created
    assert results[-1][1] == 201
