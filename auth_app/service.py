"""Auth methods: login, change password (ending every session), session checks."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg
from loguru import logger
from prometheus_client import Counter
from redis.exceptions import RedisError

from auth_app.throttle import LoginThrottle
from common.db.idempotency import once_per_message, run_once
from common.db.pool import connection
from common.errors import InvalidCredentials, InvalidToken, RateLimited, ServiceUnavailable
from common.rpc.message import Request
from common.rpc.server import Method
from common.schemas import ChangePasswordParams, LoginParams, SessionParams
from common.sessions import SessionCache
from common.worker import WorkerContext


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthService:
    def __init__(self, ctx: WorkerContext) -> None:
        self._ctx = ctx
        self._sessions = SessionCache(ctx.redis, ctx.keys)
        self._throttle = LoginThrottle(
            ctx.redis,
            ctx.keys,
            max_failures=ctx.settings.login_max_failures,
            window=ctx.settings.login_failure_window,
        )
        self._throttled = Counter(
            "gatehouse_login_throttled",
            "Logins refused because the account name had too many recent failures.",
            registry=ctx.metrics.registry,
        )

    def methods(self) -> Mapping[str, Method]:
        return {
            "auth.login": Method(self.login, LoginParams()),
            "auth.change_password": Method(self.change_password, ChangePasswordParams()),
            "auth.check_session": Method(self.check_session, SessionParams()),
        }

    async def login(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx = self._ctx
        try:
            await self._throttle.check(params["login"])
        except RateLimited:
            self._throttled.inc()
            raise
        async with connection(ctx.pool) as conn:
            user = await ctx.queries.one(conn, "get_user_by_login", login=params["login"])
        hashed = user["password_hash"] if user is not None else None
        # Runs even for an unknown user, so timing does not reveal who exists.
        if not await ctx.hasher.verify(params["password"], hashed) or user is None:
            await self._throttle.failed(params["login"])
            raise InvalidCredentials("Invalid username or password")
        await self._throttle.succeeded(params["login"])

        async with connection(ctx.pool) as conn, conn.transaction():
            session_id = await ctx.queries.value(conn, "next_session_id")
            token, expires = ctx.tokens.issue(user_id=user["id"], session_id=session_id)
            await ctx.queries.execute(
                conn,
                "insert_session",
                session_id=session_id,
                user_id=user["id"],
                token_hash=token_hash(token),
                expires_at=datetime.fromtimestamp(expires, UTC),
            )
        try:
            await self._sessions.mark_live(session_id, user["id"], expires)
        except RedisError as exc:
            # The gateway falls back to check_session, which repopulates.
            logger.warning("session {} not mirrored to Redis: {}", session_id, exc)
        logger.info("user {} logged in, session {}", user["id"], session_id)
        return {
            "token": token,
            "expires_at": expires,
            "user": {"id": user["id"], "username": user["username"], "email": user["email"]},
        }

    async def change_password(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        return await once_per_message(
            self._ctx.pool,
            self._ctx.queries,
            request,
            lambda: self._change_password(params, request),
            lambda: self._ctx.stats.count(request.method, "replayed"),
        )

    async def _change_password(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx = self._ctx
        user_id = params["user_id"]
        async with connection(ctx.pool) as conn:
            user = await ctx.queries.one(conn, "get_user_credentials", user_id=user_id)
        if user is None:
            raise InvalidToken("The token's user no longer exists")
        if not await ctx.hasher.verify(params["currentPassword"], user["password_hash"]):
            raise InvalidCredentials("Current password is incorrect")
        new_hash = await ctx.hasher.hash(params["newPassword"])

        async def replace(conn: asyncpg.Connection) -> dict[str, Any]:
            changed = await ctx.queries.value(
                conn,
                "replace_password_hash",
                user_id=user_id,
                new_hash=new_hash,
                old_hash=user["password_hash"],
            )
            if changed is None:
                raise InvalidCredentials("Password was changed concurrently; try again")
            ended = await ctx.queries.many(conn, "end_user_sessions", user_id=user_id)
            # Ended in Redis before the commit: if Redis fails, nothing changes; if
            # the commit fails after, sessions end early, which is the safe side.
            try:
                await self._sessions.mark_ended((row["id"], row["expires_at"]) for row in ended)
            except RedisError as exc:
                raise ServiceUnavailable("Session store unreachable") from exc
            return {"sessions_ended": len(ended)}

        result: dict[str, Any] = await run_once(ctx.pool, ctx.queries, request, replace)
        logger.info(
            "user {} changed password, {} session(s) ended", user_id, result["sessions_ended"]
        )
        return result

    async def check_session(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        """Liveness of a session from PostgreSQL, written back to Redis."""
        ctx = self._ctx
        async with connection(ctx.pool) as conn:
            row = await ctx.queries.one(conn, "get_session", session_id=params["session_id"])
        if row is None:
            return {"live": False, "user_id": None}
        live = bool(row["live"])
        try:
            if live:
                await self._sessions.mark_live(row["id"], row["user_id"], row["expires_at"])
            else:
                await self._sessions.mark_ended([(row["id"], row["expires_at"])])
        except RedisError as exc:
            logger.warning("session {} not mirrored to Redis: {}", row["id"], exc)
        return {"live": live, "user_id": row["user_id"]}


def build_methods(ctx: WorkerContext) -> Mapping[str, Method]:
    return AuthService(ctx).methods()
