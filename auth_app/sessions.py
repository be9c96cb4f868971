"""A user's own sessions: logout by scope, the live list, ending one, the audit trail.

Logout and ending a session are idempotent by construction: they end what
is still live, so a redelivered request finds nothing more to end, changes
nothing, and records no second event.
"""

from __future__ import annotations

from typing import Any

from common.accounts.audit import Audit, Recorded, public_event
from common.accounts.schemas import MAX_SESSION_ID
from common.accounts.sessions import SessionEnder
from common.db.pool import connection
from common.errors import NotFound
from common.rpc.message import Request
from common.worker import WorkerContext


class SessionManagement:
    def __init__(self, ctx: WorkerContext, audit: Audit, ender: SessionEnder) -> None:
        self._ctx = ctx
        self._audit = audit
        self._ender = ender

    async def logout(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        """scope local: this session; others: every other one; global: all of them."""
        ctx = self._ctx
        user_id, session_id, scope = params["user_id"], params["session_id"], params["scope"]
        recorded = Recorded()
        async with connection(ctx.pool) as conn, conn.transaction():
            if scope == "local":
                ended = await ctx.queries.many(
                    conn, "end_session", session_id=session_id, user_id=user_id, reason="logout"
                )
            elif scope == "others":
                ended = await ctx.queries.many(
                    conn,
                    "end_other_sessions",
                    session_id=session_id,
                    user_id=user_id,
                    reason="logout",
                )
            else:
                ended = await ctx.queries.many(
                    conn, "end_user_sessions", user_id=user_id, reason="logout"
                )
            count = await self._ender.ended(
                conn, request, ended, user_id=user_id, reason="logout", into=recorded
            )
        await self._audit.publish(recorded)
        return {"sessions_ended": count}

    async def list_sessions(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx = self._ctx
        async with connection(ctx.pool) as conn:
            rows = await ctx.queries.many(conn, "live_sessions", user_id=params["user_id"])
        return {
            "sessions": [
                {
                    "id": row["id"],
                    "created_at": row["created_at"].isoformat(),
                    "last_used_at": row["last_used_at"].isoformat(),
                    "user_agent": row["user_agent"],
                    "ip": row["ip"],
                    "current": row["id"] == params["session_id"],
                }
                for row in rows
            ]
        }

    async def end_session(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        """End one of the caller's sessions; any id that is not theirs is simply not found."""
        ctx = self._ctx
        user_id, target = params["user_id"], params["target"]
        if not 0 < target <= MAX_SESSION_ID:
            raise NotFound("Session not found")
        recorded = Recorded()
        async with connection(ctx.pool) as conn, conn.transaction():
            ended = await ctx.queries.many(
                conn, "end_session", session_id=target, user_id=user_id, reason="revoked"
            )
            # An own session that already ended is ended: 204 again, not 404.
            if not ended and not await ctx.queries.value(
                conn, "owns_session", session_id=target, user_id=user_id
            ):
                raise NotFound("Session not found")
            count = await self._ender.ended(
                conn, request, ended, user_id=user_id, reason="revoked", into=recorded
            )
        await self._audit.publish(recorded)
        return {"sessions_ended": count}

    async def audit_events(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx = self._ctx
        async with connection(ctx.pool) as conn:
            rows = await ctx.queries.many(
                conn, "user_audit_events", user_id=params["user_id"], limit=params["limit"]
            )
        return {"events": [public_event(row) for row in rows]}
