"""User methods: registration (exactly once per request) and profile."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg
from loguru import logger
from redis.exceptions import RedisError

from common import json_codec
from common.db.batch_loader import BatchLoader
from common.db.idempotency import once_per_message, run_once
from common.db.pool import connection
from common.errors import Conflict, NotFound
from common.rpc.message import Request
from common.rpc.server import Method
from common.schemas import ProfileParams, RegisterParams
from common.worker import WorkerContext


def public_user(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "username": row["username"],
        "email": row["email"],
        "created_at": row["created_at"].isoformat(),
    }


class UserService:
    def __init__(self, ctx: WorkerContext) -> None:
        self._ctx = ctx
        self._profiles: BatchLoader[int, asyncpg.Record] = BatchLoader(self._load_profiles)

    def methods(self) -> Mapping[str, Method]:
        return {
            "user.register": Method(self.register, RegisterParams()),
            "user.profile": Method(self.profile, ProfileParams()),
        }

    async def register(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        return await once_per_message(
            self._ctx.pool,
            self._ctx.queries,
            request,
            lambda: self._register(params, request),
            lambda: self._ctx.stats.count(request.method, "replayed"),
        )

    async def _register(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx = self._ctx
        password_hash = await ctx.hasher.hash(params["password"])

        async def insert(conn: asyncpg.Connection) -> dict[str, Any]:
            try:
                row = await ctx.queries.one(
                    conn,
                    "insert_user",
                    username=params["username"],
                    email=params["email"],
                    password_hash=password_hash,
                )
            except asyncpg.UniqueViolationError:
                raise Conflict("User with this username or email already exists") from None
            assert row is not None
            return {"user": public_user(row)}

        result: dict[str, Any] = await run_once(ctx.pool, ctx.queries, request, insert)
        logger.info("registered user {}", result["user"]["id"])
        await self._publish_created(result["user"], request)
        return result

    async def profile(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        row = await self._profiles.load(params["user_id"])
        if row is None:
            raise NotFound("User not found")
        return {"user": public_user(row)}

    async def _load_profiles(self, user_ids: list[int]) -> dict[int, asyncpg.Record]:
        """Every profile asked for by the calls of one take, in one query."""
        async with connection(self._ctx.pool) as conn:
            rows = await self._ctx.queries.many(conn, "get_user_profiles", user_ids=user_ids)
        return {row["id"]: row for row in rows}

    async def _publish_created(self, user: dict[str, Any], request: Request) -> None:
        event = {
            "type": "user.created",
            "id": uuid.uuid4().hex,
            "occurred_at": datetime.now(UTC).isoformat(),
            "request_id": request.request_id,
            "data": {"user": user},
        }
        try:
            await self._ctx.redis.publish(self._ctx.keys.events, json_codec.dumps(event))
        except RedisError as exc:
            # The user exists either way; pub/sub delivery is at most once.
            logger.warning("user.created for {} not published: {}", user["id"], exc)


def build_methods(ctx: WorkerContext) -> Mapping[str, Method]:
    return UserService(ctx).methods()
