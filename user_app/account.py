"""A user's own account: change username and/or email, delete it.

A new email does not replace the old one at once: it becomes a pending change,
confirmed by a link sent to the new address (user_app/verification.py), and
the old address is told.

Both run exactly once per message (once_per_message + run_once). Deleting
ends every session first, in the same transaction, recording why, and marks
them ended in Redis before the commit: the deleted user's tokens are refused
on their next use, and with the row gone nobody can log in as it.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import asyncpg

from common.accounts.audit import Audit, Recorded
from common.accounts.credentials import verify_own_password
from common.accounts.email_tokens import CHANGE, EmailTokens
from common.accounts.sessions import SessionCache, SessionEnder
from common.db.idempotency import run_once
from common.errors import Conflict, InvalidCredentials, InvalidToken
from common.rpc.message import Request
from common.worker import WorkerContext


def public_user(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "username": row["username"],
        "email": row["email"],
        "created_at": row["created_at"].isoformat(),
    }


class Account:
    def __init__(self, ctx: WorkerContext, audit: Audit, tokens: EmailTokens) -> None:
        self._ctx = ctx
        self._audit = audit
        self._tokens = tokens
        self._ender = SessionEnder(SessionCache(ctx.redis, ctx.keys, ctx.replicas), audit)

    async def update(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        return await self._ctx.once(request, lambda: self._update(params, request))

    async def _update(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx = self._ctx
        user_id = params["user_id"]
        username, email = params.get("username"), params.get("email")
        recorded = Recorded()
        outgoing: list[tuple[EmailMessage, str]] = []

        async def apply(conn: asyncpg.Connection) -> dict[str, Any]:
            try:
                row = await ctx.queries.one(conn, "rename_user", user_id=user_id, username=username)
            except asyncpg.UniqueViolationError:
                raise Conflict("User with this username or email already exists") from None
            if row is None:
                raise InvalidToken("The token's user no longer exists")
            pending = None
            if email is not None and email != row["email"].lower():
                pending = await self._ask_to_move(conn, request, row, email, recorded, outgoing)
            if username is not None:
                # The email has its own events: asked for now, changed once confirmed.
                await self._audit.record(
                    conn,
                    request,
                    "user.updated",
                    user_id=user_id,
                    data={"changed": ["username"]},
                    into=recorded,
                )
            return {"user": public_user(row), "pending_email": pending}

        result: dict[str, Any] = await run_once(ctx.pool, ctx.queries, request, apply)
        await self._audit.publish(recorded)
        self._tokens.send_all(outgoing)
        return result

    async def _ask_to_move(
        self,
        conn: asyncpg.Connection,
        request: Request,
        row: asyncpg.Record,
        email: str,
        recorded: Recorded,
        outgoing: list[tuple[EmailMessage, str]],
    ) -> str:
        """A pending change to ``email``: a link to the new address, a notice to the old.

        The account keeps its address until the link is followed
        (user_app/verification.py), so a stolen session cannot move it alone.
        """
        queries = self._ctx.queries
        if await queries.value(conn, "email_taken", user_id=row["id"], email=email):
            raise Conflict("User with this username or email already exists")
        token = await self._tokens.issue(conn, user_id=row["id"], email=email, purpose=CHANGE)
        await self._audit.record(
            conn, request, "user.email_change_requested", user_id=row["id"], into=recorded
        )
        outgoing.append((self._tokens.change_confirmation(email, token), "email change link"))
        outgoing.append((self._tokens.change_notice(row["email"], email), "email change notice"))
        return email

    async def delete(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        return await self._ctx.once(request, lambda: self._delete(params, request))

    async def _delete(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx = self._ctx
        user_id = params["user_id"]
        user = await verify_own_password(
            ctx, user_id=user_id, password=params["password"], wrong="Password is incorrect"
        )
        recorded = Recorded()

        async def remove(conn: asyncpg.Connection) -> dict[str, Any]:
            locked = await ctx.queries.one(conn, "lock_user_credentials", user_id=user_id)
            if locked is None or locked["password_hash"] != user["password_hash"]:
                raise InvalidCredentials("Password was changed concurrently; try again")
            count = await self._ender.end_all(
                conn, ctx.queries, request, user_id=user_id, reason="deletion", into=recorded
            )
            await self._audit.record(
                conn,
                request,
                "user.deleted",
                user_id=user_id,
                data={"username": locked["username"]},
                into=recorded,
            )
            await ctx.queries.value(conn, "delete_user", user_id=user_id)
            return {"sessions_ended": count}

        result: dict[str, Any] = await run_once(ctx.pool, ctx.queries, request, remove)
        await self._audit.publish(recorded)
        return result
