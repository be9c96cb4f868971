"""The asyncpg pool every worker opens at start and closes at stop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
from loguru import logger

from common.config import Settings

# What asyncpg raises when PostgreSQL is down, restarting or unreachable; a
# handler failing with one of these answers 503, not 500.
DATABASE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.TooManyConnectionsError,
    # asyncpg's protocol state machine trips over a connection the server
    # drops mid-operation ("cannot switch to state ..."): seen on shutdown.
    asyncpg.InternalClientError,
)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for json_type in ("json", "jsonb"):
        await conn.set_type_codec(
            json_type,
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release a connection without asyncpg's reset query.

    The default reset (``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL``) is one more round trip and a PostgreSQL transaction on every
    release: a quarter of a user worker's CPU under load, doubling the
    server's transactions per request. These connections run only our named
    queries, which leave no session state behind: no cursors, LISTEN or SET,
    and the migration lock is released in a ``finally``. A transaction left
    open is still rolled back: asyncpg does that before calling this.
    """


async def create_pool(settings: Settings) -> asyncpg.Pool:
    """A pool sized by DB_POOL_MIN / DB_POOL_MAX.

    The default maximum (10) is below the worker's concurrency (64) on purpose:
    most requests spend their time in bcrypt, not holding a connection, and
    PostgreSQL's own limit (100) must cover every worker process.
    """
    pool: asyncpg.Pool = await asyncpg.create_pool(
        settings.db.database_url,
        min_size=settings.db.db_pool_min,
        max_size=settings.db.db_pool_max,
        command_timeout=max(settings.rpc.rpc_timeout, 5.0),
        max_inactive_connection_lifetime=60,
        statement_cache_size=settings.db.db_statement_cache_size,
        init=_init_connection,
        reset=_keep_session,
    )
    return pool


async def wait_for_pool(settings: Settings, *, patience: float = 30.0) -> asyncpg.Pool:
    """``create_pool``, retried while PostgreSQL is still starting (as under compose)."""
    give_up = time.monotonic() + patience
    delay = 0.2
    while True:
        try:
            return await create_pool(settings)
        except DATABASE_UNAVAILABLE as exc:
            if time.monotonic() > give_up:
                raise
            logger.warning("PostgreSQL not reachable yet ({}); retrying in {:.1f}s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)


@asynccontextmanager
async def connection(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """``pool.acquire()``, except that failing to hand the connection back does
    not fail the work done on it.

    Releasing rolls back a transaction left open; if PostgreSQL dropped the
    connection just after a COMMIT, the release fails, yet the transaction
    stands and its result must reach the caller. The pool discards such a connection by itself.
    """
    conn = await pool.acquire()
    try:
        yield conn
    finally:
        try:
            await pool.release(conn)
        except DATABASE_UNAVAILABLE as exc:
            logger.warning("connection dropped on release: {!r}", exc)
