"""Pids of the servers a scenario leans on, when they run on this machine.

Redis names its own pid (``INFO server``); PostgreSQL's backends for the
bench's database are found by their process titles; nats-server is found by
name. Each pid is kept only if a process of the expected name has it here,
so a remote server (or one in a container) is left out, not misattributed.
"""

from __future__ import annotations

from redis.asyncio import Redis

from bench.procstat import local_pids, pids_named, process_title
from common.config.db import database_of


async def redis_pids(redis_url: str) -> list[int]:
    client = Redis.from_url(redis_url)
    try:
        info = await client.info("server")
    finally:
        await client.aclose()
    return local_pids([int(info.get("process_id", 0))], ("redis-server", "valkey-server"))


def postgres_pids(database_url: str) -> list[int]:
    """The local backends now serving the database of ``database_url``.

    A backend titles itself ``postgres: <user> <database> <client> <state>``;
    reading titles needs no connection of our own, which a busy shared server
    may not have to spare.
    """
    database = f" {database_of(database_url)} "
    return [pid for pid in pids_named(["postgres"]) if database in process_title(pid)]


def nats_pids() -> list[int]:
    return pids_named(["nats-server"])
