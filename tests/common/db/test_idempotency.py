"""run_once / once_per_message: a non-idempotent effect runs once per message id."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from common.db.idempotency import (
    AlreadyCompleted,
    once_per_message,
    purge_completed,
    run_once,
    stored_reply,
)
from common.db.queries import Queries
from common.rpc.message import Request, now_ms


def make_request(method: str = "user.register") -> Request:
    return Request(method=method, params={}, reply_to="test:reply:x", deadline=now_ms() + 5000)


class Effect:
    """An effect that inserts a user (so a rollback is visible) and counts its runs."""

    def __init__(self, queries: Queries, unique: Callable[[str], str]) -> None:
        self.queries = queries
        self.username = unique("once")
        self.runs = 0
        self.release = asyncio.Event()
        self.release.set()
        self.fail_with: Exception | None = None

    async def __call__(self, conn: asyncpg.Connection) -> dict[str, Any]:
        self.runs += 1
        row = await self.queries.one(
            conn,
            "insert_user",
            username=self.username,
            email=f"{self.username}@example.com",
            password_hash="not-a-real-hash",
        )
        assert row is not None
        await self.release.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return {"user": {"id": row["id"], "username": row["username"]}}

    async def user_exists(self, pool: asyncpg.Pool) -> bool:
        async with pool.acquire() as conn:
            return (
                await self.queries.one(conn, "get_user_by_login", login=self.username) is not None
            )


@pytest.fixture
def effect(queries: Queries, unique: Callable[[str], str]) -> Effect:
    return Effect(queries, unique)


async def blocked_claims(pool: asyncpg.Pool) -> int:
    """Sessions of this database waiting on a row lock held by another claim."""
    async with pool.acquire() as conn:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            " AND query LIKE '%INSERT INTO rpc_completed%'"
        )
        return count


async def wait_until_second_claim_blocks(pool: asyncpg.Pool, effect: Effect) -> None:
    async def poll() -> None:
        # Polling PostgreSQL: there is no event to wait on for another session's lock.
        while effect.runs == 0 or await blocked_claims(pool) == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), 10)


async def record_of(pool: asyncpg.Pool, queries: Queries, message_id: str) -> Any:
    async with pool.acquire() as conn:
        return await queries.one(conn, "completed_reply", message_id=message_id)


async def test_run_once_runs_the_effect_and_stores_its_reply(
    pool: asyncpg.Pool, queries: Queries, effect: Effect
) -> None:
    request = make_request()

    result = await run_once(pool, queries, request, effect)

    assert effect.runs == 1
    assert result["user"]["username"] == effect.username
    assert await effect.user_exists(pool)
    assert (await stored_reply(pool, queries, request.id))["reply"] == result


async def test_a_second_run_once_raises_already_completed_with_the_stored_reply(
    pool: asyncpg.Pool, queries: Queries, effect: Effect
) -> None:
    request = make_request()
    first = await run_once(pool, queries, request, effect)

    with pytest.raises(AlreadyCompleted) as replay:
        await run_once(pool, queries, request, effect)

    assert replay.value.reply == first
    assert effect.runs == 1


async def test_different_ids_each_run(
    pool: asyncpg.Pool, queries: Queries, unique: Callable[[str], str]
) -> None:
    effects = [Effect(queries, unique) for _ in range(3)]

    for effect in effects:
        await run_once(pool, queries, make_request(), effect)

    assert [effect.runs for effect in effects] == [1, 1, 1]


async def test_a_failing_effect_rolls_back_and_may_run_again(
    pool: asyncpg.Pool, queries: Queries, effect: Effect
) -> None:
    request = make_request()
    effect.fail_with = RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await run_once(pool, queries, request, effect)

    assert await record_of(pool, queries, request.id) is None
    assert not await effect.user_exists(pool)

    effect.fail_with = None
    result = await run_once(pool, queries, request, effect)

    assert effect.runs == 2
    assert (await stored_reply(pool, queries, request.id))["reply"] == result
    assert await effect.user_exists(pool)


async def test_concurrent_run_once_for_one_id_runs_the_effect_once(
    pool: asyncpg.Pool, queries: Queries, effect: Effect
) -> None:
    request = make_request()
    effect.release.clear()

    first = asyncio.create_task(run_once(pool, queries, request, effect))
    second = asyncio.create_task(run_once(pool, queries, request, effect))
    # The first holds its claim until released; the second waits on that claim.
    await wait_until_second_claim_blocks(pool, effect)
    effect.release.set()
    outcomes = await asyncio.gather(first, second, return_exceptions=True)

    assert effect.runs == 1
    results = [o for o in outcomes if not isinstance(o, BaseException)]
    replays = [o for o in outcomes if isinstance(o, AlreadyCompleted)]
    assert len(results) == 1
    assert len(replays) == 1
    assert replays[0].reply == results[0]


async def test_once_per_message_returns_the_stored_reply_without_running_again(
    pool: asyncpg.Pool, queries: Queries, effect: Effect
) -> None:
    request = make_request()
    replays: list[str] = []
    attempts: list[str] = []

    async def run() -> Any:
        attempts.append(request.id)
        return await run_once(pool, queries, request, effect)

    first = await once_per_message(pool, queries, request, run, lambda: replays.append("r"))
    again = await once_per_message(pool, queries, request, run, lambda: replays.append("r"))

    assert again == first
    assert effect.runs == 1
    # The stored reply is found before ``run`` starts, not by its claim failing.
    assert len(attempts) == 1
    assert replays == ["r"]


async def test_once_per_message_for_a_new_id_runs(
    pool: asyncpg.Pool, queries: Queries, effect: Effect
) -> None:
    request = make_request()
    replays: list[str] = []

    result = await once_per_message(
        pool,
        queries,
        request,
        lambda: run_once(pool, queries, request, effect),
        lambda: replays.append("r"),
    )

    assert result["user"]["username"] == effect.username
    assert replays == []


async def test_concurrent_once_per_message_runs_once_and_both_get_the_reply(
    pool: asyncpg.Pool, queries: Queries, effect: Effect
) -> None:
    request = make_request()
    replays: list[str] = []
    effect.release.clear()

    def deliver() -> asyncio.Task[Any]:
        return asyncio.create_task(
            once_per_message(
                pool,
                queries,
                request,
                lambda: run_once(pool, queries, request, effect),
                lambda: replays.append("r"),
            )
        )

    deliveries = [deliver(), deliver()]
    await wait_until_second_claim_blocks(pool, effect)
    effect.release.set()
    first, second = await asyncio.gather(*deliveries)

    assert first == second
    assert effect.runs == 1
    assert replays == ["r"]


async def test_once_per_message_propagates_a_failure_without_recording(
    pool: asyncpg.Pool, queries: Queries, effect: Effect
) -> None:
    request = make_request()
    effect.fail_with = ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        await once_per_message(
            pool, queries, request, lambda: run_once(pool, queries, request, effect), lambda: None
        )

    assert await stored_reply(pool, queries, request.id) is None
    assert await record_of(pool, queries, request.id) is None


async def test_purge_keeps_recent_records(
    pool: asyncpg.Pool, queries: Queries, effect: Effect
) -> None:
    request = make_request()
    result = await run_once(pool, queries, request, effect)

    purged = await purge_completed(pool, queries)

    assert isinstance(purged, int)
    assert (await stored_reply(pool, queries, request.id))["reply"] == result


async def test_purge_removes_records_older_than_an_hour(
    pool: asyncpg.Pool, queries: Queries, effect: Effect
) -> None:
    request = make_request()
    await run_once(pool, queries, request, effect)
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE rpc_completed SET completed_at = now() - interval '2 hours'"
            " WHERE message_id = $1",
            request.id,
        )

    assert await purge_completed(pool, queries) >= 1
    assert await record_of(pool, queries, request.id) is None
