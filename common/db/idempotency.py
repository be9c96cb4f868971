"""Run a non-idempotent effect at most once per message id.

The id is claimed, the effect applied and its reply stored in one
transaction. A redelivered request (its first worker died after the commit
but before the reply left) finds the stored reply and returns it instead of
running again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import asyncpg

from common.db.pool import connection
from common.db.queries import Queries
from common.rpc.message import Request

T = TypeVar("T")

# Far longer than any deadline, so a redelivery always finds its record.
KEEP_COMPLETED_SECONDS = 3600


class AlreadyCompleted(Exception):
    def __init__(self, reply: Any) -> None:
        super().__init__("message already completed")
        self.reply = reply


async def run_once(
    pool: asyncpg.Pool,
    queries: Queries,
    request: Request,
    effect: Callable[[asyncpg.Connection], Awaitable[Any]],
) -> Any:
    """``effect(conn)`` inside a transaction, once per ``request.id``.

    Raises AlreadyCompleted carrying the stored reply when the id already ran,
    so the caller can tell a replay from a first run (it should not, for
    instance, publish an event twice).
    """
    async with connection(pool) as conn, conn.transaction():
        claimed = await queries.value(
            conn, "claim_message", message_id=request.id, method=request.method
        )
        if claimed is None:
            row = await queries.one(conn, "completed_reply", message_id=request.id)
            raise AlreadyCompleted(row["reply"] if row else None)
        result = await effect(conn)
        await queries.execute(conn, "store_reply", message_id=request.id, reply=result)
        return result


async def stored_reply(
    pool: asyncpg.Pool, queries: Queries, message_id: str
) -> asyncpg.Record | None:
    """The row of a completed id (its ``reply`` may be JSON null), or None."""
    async with connection(pool) as conn:
        row: asyncpg.Record | None = await queries.one(
            conn, "completed_reply", message_id=message_id
        )
    return row


async def once_per_message(
    pool: asyncpg.Pool,
    queries: Queries,
    request: Request,
    run: Callable[[], Awaitable[T]],
    on_replay: Callable[[], None],
) -> T:
    """The stored reply if ``request.id`` already ran, else ``run()``.

    The check comes before ``run`` does anything: a change of password that
    already ran would otherwise fail its own "current password" check.
    ``run`` must apply its effect through ``run_once``, which closes the race
    of two deliveries arriving together.
    """
    stored = await stored_reply(pool, queries, request.id)
    if stored is not None:
        on_replay()
        return cast(T, stored["reply"])
    try:
        return await run()
    except AlreadyCompleted as done:
        on_replay()
        return cast(T, done.reply)


async def purge_completed(pool: asyncpg.Pool, queries: Queries) -> int:
    async with connection(pool) as conn:
        purged: int = await queries.value(
            conn, "purge_completed", keep_seconds=KEEP_COMPLETED_SECONDS
        )
        return purged
