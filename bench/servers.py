"""Pids of the servers a scenario leans on, when they run on this machine.

Redis names its own pid (``INFO server``); PostgreSQL's backends for the
bench's database come from ``pg_stat_activity``; nats-server is found by
name. Each pid is kept only if a process of the expected name has it here,
so a remote server (or one in a container) is left out, not misattributed.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
from redis.asyncio import Redis

from bench.procstat import local_pids, pids_named
from common.db.queries import Queries

BENCH_QUERIES = Path(__file__).resolve().parent / "queries"


async def redis_pids(redis_url: str) -> list[int]:
    client = Redis.from_url(redis_url)
    try:
        info = await client.info("server")
    finally:
        await client.aclose()
    return local_pids([int(info.get("process_id", 0))], ("redis-server", "valkey-server"))


async def postgres_pids(database_url: str) -> list[int]:
    """The backends now connected to the database of ``database_url``."""
    queries = Queries.load(BENCH_QUERIES)
    conn = await asyncpg.connect(database_url)
    try:
        rows = await queries.many(conn, "database_backend_pids")
    finally:
        await conn.close()
    return local_pids([row["pid"] for row in rows], ("postgres",))


def nats_pids() -> list[int]:
    return pids_named(["nats-server"])
