"""Gatehouse on a 3-primary Redis Cluster while its busiest slots move between nodes.

The seed and session suites run on a cluster through TEST_REDIS_TOPOLOGY
(tox -e topologies); this file adds what only a cluster can do: a
resharding under load, with slots half-moved (MIGRATING/IMPORTING: ASK and
TRYAGAIN answers) and then owned elsewhere (MOVED, blocked pops unblocked).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import Servers, scratch_folder
from tests.e2e.helpers import login, register
from tests.e2e.stack import Stack, full_stack
from tests.topologies import RedisCluster

REGISTRATIONS = 240
CONCURRENCY = 16
LOAD_SECONDS = 120
# Keys moved in small batches with a pause, so calls keep hitting the half-moved slot.
MIGRATE_BATCH = 20
MIGRATE_PAUSE = 0.05
# How long each slot stays half-moved at least: new keys of the slot go to the
# new owner (ASK), scripts over keys on both sides get TRYAGAIN.
HALF_MOVED_SECONDS = 0.5
ANSWERS_ALLOWED = {200, 201, 503, 504}


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[RedisCluster]:
    with scratch_folder("gatehouse-cluster-") as folder:
        cluster = RedisCluster(folder).start()
        try:
            yield cluster
        finally:
            cluster.stop()


def move_slot(cluster: RedisCluster, slot: int, to_port: int) -> int:
    """Move ``slot`` to the node on ``to_port`` as redis-cli --cluster reshard does;
    returns how many keys went with it."""
    from_port = cluster.owner(slot)
    if from_port == to_port:
        return 0
    ids = cluster.node_ids()
    source, target = cluster.node(from_port), cluster.node(to_port)
    target.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[from_port])
    source.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[to_port])
    moved = 0
    half_moved_until = time.monotonic() + HALF_MOVED_SECONDS
    while True:
        keys = source.execute_command("CLUSTER", "GETKEYSINSLOT", slot, MIGRATE_BATCH)
        if keys:
            source.execute_command("MIGRATE", "127.0.0.1", to_port, "", 0, 5000, "KEYS", *keys)
            moved += len(keys)
        elif time.monotonic() > half_moved_until:
            break
        time.sleep(MIGRATE_PAUSE)
    # The new owner first, then the old one, then the rest (the order redis-cli uses).
    others = [port for port in cluster.ports if port not in (to_port, from_port)]
    for port in (to_port, from_port, *others):
        cluster.node(port).execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[to_port])
    return moved


def reshard(cluster: RedisCluster, slots: list[int], rounds: int) -> list[tuple[int, int, int]]:
    """Move each slot to the next node, ``rounds`` times: (slot, to port, keys moved)."""
    moves = []
    for _ in range(rounds):
        for slot in slots:
            current = cluster.ports.index(cluster.owner(slot))
            to_port = cluster.ports[(current + 1) % len(cluster.ports)]
            moves.append((slot, to_port, move_slot(cluster, slot, to_port)))
    return moves


async def load(url: str, names: list[str], answers: dict[str, list[int]]) -> None:
    """Register each name and log it in, CONCURRENCY at a time; every status kept."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for name in names:
        queue.put_nowait(name)

    async def worker(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            name = queue.get_nowait()
            created = await register(http, name)
            answers[name] = [created.status_code]
            if created.status_code == 201:
                answers[name].append((await login(http, name)).status_code)

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await asyncio.gather(*(worker(http) for _ in range(CONCURRENCY)))


async def rows_per_name(database_url: str, names: list[str]) -> Counter[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT username, count(*) AS n FROM users WHERE username = ANY($1) GROUP BY username",
            names,
        )
    finally:
        await conn.close()
    return Counter({row["username"]: row["n"] for row in rows})


@pytest.mark.timeout(LOAD_SECONDS + 60)
async def test_resharding_under_load_loses_no_acknowledged_write(
    redis_cluster: RedisCluster,
    stack_factory: Callable[..., Stack],
    servers: Servers,
    tmp_path: Path,
) -> None:
    stack = full_stack(
        stack_factory(REDIS_URL=redis_cluster.url, REDIS_CLUSTER="true", RPC_TIMEOUT="10")
    )
    keys = stack.keys
    async with httpx.AsyncClient(base_url=stack.url, timeout=5) as http:
        gateway = (await http.get("/services")).json()["services"]["gateway"][0]
    hot = [
        keys.request_queue("user"),
        keys.request_queue("auth"),
        keys.reply_queue(gateway["instance"]),
        keys.login_failures("account", "x"),
    ]
    slots = sorted({redis_cluster.node(redis_cluster.ports[0]).cluster("keyslot", k) for k in hot})
    owners = {slot: redis_cluster.owner(slot) for slot in slots}
    names = [f"resh_{uuid.uuid4().hex[:10]}" for _ in range(REGISTRATIONS)]
    answers: dict[str, list[int]] = {}

    started = time.monotonic()
    async with asyncio.timeout(LOAD_SECONDS):
        traffic = asyncio.create_task(load(stack.url, names, answers))
        await asyncio.sleep(0.5)  # under way before the first slot moves
        moves = await asyncio.to_thread(reshard, redis_cluster, slots, 2)
        await traffic
    elapsed = time.monotonic() - started

    statuses = Counter(status for codes in answers.values() for status in codes)
    print(f"resharding: {len(moves)} slot moves {moves}; {dict(statuses)} in {elapsed:.1f}s")
    assert len(answers) == REGISTRATIONS
    assert set(statuses) <= ANSWERS_ALLOWED, statuses
    # Every slot now lives on another node, and most calls went through meanwhile.
    assert all(redis_cluster.owner(slot) != owners[slot] for slot in slots)
    assert statuses[201] >= REGISTRATIONS // 2

    acknowledged = [name for name, codes in answers.items() if codes[0] == 201]
    stored = await rows_per_name(servers.database_url, names)
    assert all(stored[name] == 1 for name in acknowledged)
    assert all(count == 1 for count in stored.values())  # a 503/504 one at most once

    # And the cluster serves the moved slots afterwards.
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as http:
        after = f"after_{uuid.uuid4().hex[:10]}"
        assert (await register(http, after)).status_code == 201
        assert (await login(http, after)).status_code == 200
