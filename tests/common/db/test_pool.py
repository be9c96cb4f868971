"""The worker pool: releasing a connection costs no reset query, yet leaves nothing open."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from common.config import Settings
from common.db.pool import connection, create_pool


async def test_release_sends_no_reset_query(pool: asyncpg.Pool) -> None:
    sent: list[str] = []
    async with connection(pool) as conn:
        conn.add_query_logger(lambda record: sent.append(record.query))
        assert await conn.fetchval("SELECT 1") == 1
    assert sent == ["SELECT 1"]


async def test_a_transaction_left_open_is_rolled_back_on_release(
    migrated: str, settings_factory: Callable[..., Settings]
) -> None:
    one_connection = await create_pool(settings_factory(DB_POOL_MIN="1", DB_POOL_MAX="1"))
    try:
        conn = await one_connection.acquire()
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("CREATE TEMP TABLE left_open (n int)")
        await one_connection.release(conn)
        async with connection(one_connection) as again:
            assert not again.is_in_transaction()
            assert await again.fetchval("SELECT to_regclass('pg_temp.left_open')") is None
    finally:
        await one_connection.close()
