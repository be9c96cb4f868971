"""Password reset by a single-use token sent to the account's email.

``forgot`` answers the same whether or not the email has an account: both
paths claim the message id in one transaction (run_once), and the send runs
after the commit, off the request's path. A token is 256 random bits, stored
as a hash, valid ``PASSWORD_RESET_EXPIRES_IN``, used once, and bound to a
fingerprint of the password hash it was made for, so any password change
(including another reset) invalidates it. ``reset`` sets the new password and
ends every session. Both run exactly once per message (once_per_message).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
from loguru import logger

from auth_app.mailer import ResetSender, sender_for
from common.accounts.audit import Audit, Recorded
from common.accounts.sessions import SessionEnder
from common.db.idempotency import run_once
from common.db.pool import connection
from common.errors import InvalidResetToken
from common.rpc.message import Request
from common.security.opaque_tokens import new_token, token_hash
from common.worker import WorkerContext

SEND_ATTEMPTS = 3
SEND_RETRY_SECONDS = 2.0


def password_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()


def check_reset(row: asyncpg.Record | None) -> asyncpg.Record:
    """``row`` if it is a usable reset; otherwise InvalidResetToken, naming why."""
    if row is None:
        raise InvalidResetToken(details={"reason": "unknown"})
    if row["used_at"] is not None:
        raise InvalidResetToken("Password reset token already used", {"reason": "used"})
    if row["expired"]:
        raise InvalidResetToken("Password reset token expired", {"reason": "expired"})
    if not hmac.compare_digest(
        row["password_fingerprint"], password_fingerprint(row["password_hash"])
    ):
        raise InvalidResetToken(
            "The password changed since this token was made", {"reason": "superseded"}
        )
    return row


class PasswordReset:
    def __init__(
        self,
        ctx: WorkerContext,
        audit: Audit,
        ender: SessionEnder,
        sender: ResetSender | None = None,
    ) -> None:
        self._ctx = ctx
        self._audit = audit
        self._ender = ender
        self._sender = sender or sender_for(ctx.settings)
        # Strong references: the loop keeps only weak ones to running tasks.
        self._sending: set[asyncio.Task[None]] = set()

    async def forgot(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        return await self._ctx.once(request, lambda: self._forgot(params, request))

    async def _forgot(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx = self._ctx
        token = new_token()
        expires_in = ctx.settings.auth.password_reset_expires_in

        recipient: list[str] = []

        async def issue(conn: asyncpg.Connection) -> dict[str, Any]:
            user = await ctx.queries.one(conn, "get_user_by_email", email=params["email"])
            if user is not None:
                await ctx.queries.execute(
                    conn,
                    "insert_password_reset",
                    token_hash=token_hash(token),
                    user_id=user["id"],
                    password_fingerprint=password_fingerprint(user["password_hash"]),
                    expires_at=datetime.fromtimestamp(time.time() + expires_in, UTC),
                )
                recipient.append(user["email"])
            # The stored reply, like the answer, says nothing about the account.
            return {}

        await run_once(ctx.pool, ctx.queries, request, issue)
        for to in recipient:
            task = asyncio.create_task(self._send(to, token, expires_in))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        return {}

    async def _send(self, to: str, token: str, expires_in: float) -> None:
        """Deliver with retries; a reset that cannot be delivered is logged as an error."""
        try:
            for attempt in range(1, SEND_ATTEMPTS + 1):
                try:
                    await self._sender.send(to=to, token=token, expires_in=expires_in)
                    logger.info("password reset token sent to {}", to)
                    return
                except (OSError, TimeoutError, ValueError) as exc:
                    # aiosmtplib's errors are all OSError or ValueError subclasses.
                    logger.warning("sending a password reset (attempt {}) failed: {}", attempt, exc)
                    await asyncio.sleep(SEND_RETRY_SECONDS * attempt)
            logger.error("password reset for {} not delivered after {} attempts", to, SEND_ATTEMPTS)
        except asyncio.CancelledError:
            # The worker is stopping: say so rather than lose the mail without a word.
            logger.error("password reset for {} not delivered: the worker stopped", to)
            raise

    async def reset(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        return await self._ctx.once(request, lambda: self._reset(params, request))

    async def _reset(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx = self._ctx
        digest = token_hash(params["token"])
        # Refuse a bad token before spending a bcrypt hash on it.
        async with connection(ctx.pool) as conn:
            check_reset(await ctx.queries.one(conn, "get_password_reset", token_hash=digest))
        new_hash = await ctx.hasher.hash(params["newPassword"])
        recorded = Recorded()

        async def apply(conn: asyncpg.Connection) -> dict[str, Any]:
            # Again, under the lock: of two concurrent resets, one passes.
            row = check_reset(await ctx.queries.one(conn, "lock_password_reset", token_hash=digest))
            user_id = row["user_id"]
            await ctx.queries.value(
                conn,
                "replace_password_hash",
                user_id=user_id,
                new_hash=new_hash,
                old_hash=row["password_hash"],
            )
            await ctx.queries.execute(conn, "use_password_reset", token_hash=digest)
            await self._audit.record(
                conn, request, "user.password_reset", user_id=user_id, into=recorded
            )
            count = await self._ender.end_all(
                conn, ctx.queries, request, user_id=user_id, reason="reset", into=recorded
            )
            return {"sessions_ended": count}

        result: dict[str, Any] = await run_once(ctx.pool, ctx.queries, request, apply)
        await self._audit.publish(recorded)
        logger.info("password reset; {} session(s) ended", result["sessions_ended"])
        return result
