"""UserService.profile: the calls of one take are answered by one query."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import asyncpg
import pytest

from common.db.queries import Queries
from common.errors import NotFound
from common.rpc.message import Request, now_ms
from common.worker import WorkerContext
from user_app.service import UserService


class CountingQueries(Queries):
    """The real queries, counting how many times each runs."""

    def __init__(self, queries: Queries) -> None:
        super().__init__({query.name: query for query in queries})
        self.runs: dict[str, int] = {}

    async def many(
        self, conn: asyncpg.Connection, query_name: str, /, **params: Any
    ) -> list[asyncpg.Record]:
        self.runs[query_name] = self.runs.get(query_name, 0) + 1
        return await super().many(conn, query_name, **params)


@pytest.fixture
def service_and_queries(
    worker_context: WorkerContext,
) -> tuple[UserService, CountingQueries]:
    counting = CountingQueries(worker_context.queries)
    return UserService(dataclasses.replace(worker_context, queries=counting)), counting


def profile_request(user_id: int) -> Request:
    return Request("user.profile", {"user_id": user_id}, "test:reply", now_ms() + 5000)


async def test_profiles_asked_together_take_one_query(
    service_and_queries: tuple[UserService, CountingQueries], pool: asyncpg.Pool, unique: Any
) -> None:
    service, counting = service_and_queries
    ids = []
    async with pool.acquire() as conn:
        for _ in range(3):
            name = unique("batch")
            row = await counting.one(
                conn, "insert_user", username=name, email=f"{name}@example.com", password_hash="x"
            )
            assert row is not None
            ids.append(row["id"])
    asked = [*ids, ids[0], -1]

    answers = await asyncio.gather(
        *(service.profile({"user_id": i}, profile_request(i)) for i in asked),
        return_exceptions=True,
    )

    assert [a["user"]["id"] for a in answers[:4]] == [*ids, ids[0]]  # type: ignore[index]
    assert isinstance(answers[4], NotFound)
    assert counting.runs == {"get_profiles_with_state": 1}
