"""The admin API's session side: disable and enable an account, end its
sessions, delete it; and the audit of a call the gateway refused for a role.

Disabling and deleting end every session in the same transaction, marked
ended in Redis before the commit (SessionEnder), so the user's tokens are
refused on their very next request. The actor is checked against PostgreSQL
first (RoleGuard) and named in every event (``data.actor_id``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg
from loguru import logger

from common.accounts.admin_schemas import AdminTargetParams, ForbiddenParams
from common.accounts.audit import Audit, Recorded
from common.accounts.roles import RoleGuard
from common.accounts.sessions import SessionEnder
from common.db.idempotency import run_once
from common.errors import NotFound, ValidationFailed
from common.rpc.message import Request
from common.rpc.server import Handler, Method
from common.worker import WorkerContext

Effect = Callable[[asyncpg.Connection, Request, int, int, Recorded], Awaitable[dict[str, Any]]]


class AuthAdmin:
    def __init__(self, ctx: WorkerContext, audit: Audit, ender: SessionEnder) -> None:
        self._ctx = ctx
        self._audit = audit
        self._ender = ender
        self._guard = RoleGuard(ctx.pool, ctx.queries, audit)

    def methods(self) -> Mapping[str, Method]:
        return {
            "auth.admin_disable": Method(self._action(self._disable), AdminTargetParams()),
            "auth.admin_enable": Method(self._action(self._enable), AdminTargetParams()),
            "auth.admin_logout": Method(self._action(self._logout), AdminTargetParams()),
            "auth.admin_delete": Method(self._action(self._delete), AdminTargetParams()),
            "auth.forbidden": Method(self.forbidden, ForbiddenParams()),
        }

    async def forbidden(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        """Audit a call the gateway refused (the token lacks the role); answers 403."""
        await self._guard.refuse(request, params["user_id"], params["role"], params["action"])

    def _action(self, effect: Effect) -> Handler:
        """A guarded, exactly-once admin write on ``params["target"]``."""

        async def handler(params: dict[str, Any], request: Request) -> dict[str, Any]:
            actor, target = params["user_id"], params["target"]
            await self._guard.require(request, actor)
            ctx = self._ctx
            recorded = Recorded()

            async def run() -> dict[str, Any]:
                async def apply(conn: asyncpg.Connection) -> dict[str, Any]:
                    return await effect(conn, request, actor, target, recorded)

                result: dict[str, Any] = await run_once(ctx.pool, ctx.queries, request, apply)
                return result

            result = await ctx.once(request, run)
            await self._audit.publish(recorded)
            logger.info("admin {} ran {} on user {}", actor, request.method, target)
            return result

        return handler

    async def _disable(
        self,
        conn: asyncpg.Connection,
        request: Request,
        actor: int,
        target: int,
        recorded: Recorded,
    ) -> dict[str, Any]:
        _not_oneself(actor, target, "disable")
        row = await self._ctx.queries.one(conn, "set_user_disabled", user_id=target, disabled=True)
        if row is None:
            raise NotFound("User not found")
        await self._record(conn, request, "user.disabled", actor, target, recorded)
        ended = await self._end_all(conn, request, target, "disabled", recorded)
        return {"disabled": True, "sessions_ended": ended}

    async def _enable(
        self,
        conn: asyncpg.Connection,
        request: Request,
        actor: int,
        target: int,
        recorded: Recorded,
    ) -> dict[str, Any]:
        row = await self._ctx.queries.one(conn, "set_user_disabled", user_id=target, disabled=False)
        if row is None:
            raise NotFound("User not found")
        await self._record(conn, request, "user.enabled", actor, target, recorded)
        return {"disabled": False, "sessions_ended": 0}

    async def _logout(
        self,
        conn: asyncpg.Connection,
        request: Request,
        actor: int,
        target: int,
        recorded: Recorded,
    ) -> dict[str, Any]:
        if await self._ctx.queries.one(conn, "lock_user_for_admin", user_id=target) is None:
            raise NotFound("User not found")
        ended = await self._end_all(conn, request, target, "admin", recorded)
        await self._record(
            conn, request, "user.sessions_revoked", actor, target, recorded, count=ended
        )
        return {"sessions_ended": ended}

    async def _delete(
        self,
        conn: asyncpg.Connection,
        request: Request,
        actor: int,
        target: int,
        recorded: Recorded,
    ) -> dict[str, Any]:
        _not_oneself(actor, target, "delete")
        queries = self._ctx.queries
        locked = await queries.one(conn, "lock_user_for_admin", user_id=target)
        if locked is None:
            raise NotFound("User not found")
        ended = await self._end_all(conn, request, target, "deletion", recorded)
        await self._record(
            conn, request, "user.deleted", actor, target, recorded, username=locked["username"]
        )
        await queries.value(conn, "delete_user", user_id=target)
        return {"sessions_ended": ended}

    async def _end_all(
        self,
        conn: asyncpg.Connection,
        request: Request,
        target: int,
        reason: str,
        recorded: Recorded,
    ) -> int:
        return await self._ender.end_all(
            conn, self._ctx.queries, request, user_id=target, reason=reason, into=recorded
        )

    async def _record(
        self,
        conn: asyncpg.Connection,
        request: Request,
        event: str,
        actor: int,
        target: int,
        recorded: Recorded,
        **data: Any,
    ) -> None:
        await self._audit.record(
            conn,
            request,
            event,
            user_id=target,
            data={"actor_id": actor, **data},
            into=recorded,
        )


def _not_oneself(actor: int, target: int, verb: str) -> None:
    if actor == target:
        # An admin locking themselves out is a mistake; another admin can do it.
        raise ValidationFailed(details={"target": [f"An admin cannot {verb} their own account."]})
