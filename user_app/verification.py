"""Verified email: following a link (verify or confirm a change), asking for a new one.

Both methods run exactly once per message (``ctx.once`` + ``run_once``); mail
goes out after the commit through the ``Outbox``, never on the caller's path.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import asyncpg
from loguru import logger

from common.accounts.audit import Audit, Recorded
from common.accounts.email_tokens import CHANGE, VERIFY, EmailTokens, check_email_token
from common.accounts.mail import Outbox
from common.db.idempotency import run_once
from common.errors import Conflict, InvalidToken
from common.rpc.message import Request
from common.security.opaque_tokens import token_hash
from common.worker import WorkerContext
from user_app.account import public_user


def email_tokens(ctx: WorkerContext) -> EmailTokens:
    auth = ctx.settings.auth
    return EmailTokens(
        ctx.queries, Outbox(ctx.settings), auth.email_verification_expires_in, auth.public_url
    )


class EmailVerification:
    def __init__(self, ctx: WorkerContext, audit: Audit, tokens: EmailTokens) -> None:
        self._ctx = ctx
        self._audit = audit
        self._tokens = tokens

    async def verify(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        return await self._ctx.once(request, lambda: self._verify(params, request))

    async def _verify(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx = self._ctx
        digest = token_hash(params["token"])
        recorded = Recorded()

        async def apply(conn: asyncpg.Connection) -> dict[str, Any]:
            row = check_email_token(
                await ctx.queries.one(conn, "lock_email_token", token_hash=digest)
            )
            user_id = row["user_id"]
            if row["purpose"] == CHANGE:
                user = await self._move(conn, user_id, row["email"])
                event = "user.email_changed"
            else:
                await ctx.queries.execute(conn, "mark_email_verified", user_id=user_id)
                user = await ctx.queries.one(conn, "get_user_profile", user_id=user_id)
                event = "user.email_verified"
            await ctx.queries.execute(conn, "use_email_token", token_hash=digest)
            await self._audit.record(conn, request, event, user_id=user_id, into=recorded)
            return {"user": public_user(user) | {"email_verified": True}}

        result: dict[str, Any] = await run_once(ctx.pool, ctx.queries, request, apply)
        await self._audit.publish(recorded)
        logger.info("user {} confirmed an email address", result["user"]["id"])
        return result

    async def _move(self, conn: asyncpg.Connection, user_id: int, email: str) -> asyncpg.Record:
        """The account moved to its confirmed new address (409 if someone took it meanwhile)."""
        queries = self._ctx.queries
        if await queries.value(conn, "email_taken", user_id=user_id, email=email):
            raise Conflict("Another account has this email address now")
        try:
            # A savepoint: a unique violation must not abort the whole transaction.
            async with conn.transaction():
                row: asyncpg.Record = await queries.one(
                    conn, "confirm_email_change", user_id=user_id, email=email
                )
        except asyncpg.UniqueViolationError:
            raise Conflict("Another account has this email address now") from None
        return row

    async def resend(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        return await self._ctx.once(request, lambda: self._resend(params, request))

    async def _resend(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx = self._ctx
        outgoing: list[tuple[EmailMessage, str]] = []

        async def issue(conn: asyncpg.Connection) -> dict[str, Any]:
            state = await ctx.queries.one(conn, "get_verification_state", user_id=params["user_id"])
            if state is None:
                raise InvalidToken("The token's user no longer exists")
            if state["email_verified_at"] is not None:
                return {"sent": False}
            token = await self._tokens.issue(
                conn, user_id=state["id"], email=state["email"], purpose=VERIFY
            )
            outgoing.append((self._tokens.verification(state["email"], token), "verification"))
            return {"sent": True}

        result: dict[str, Any] = await run_once(ctx.pool, ctx.queries, request, issue)
        self._tokens.send_all(outgoing)
        return result
