"""User methods: registration (exactly once per request), profile, account changes."""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

import asyncpg
from loguru import logger

from common.accounts.audit import Audit, Recorded
from common.accounts.email_tokens import VERIFY
from common.accounts.schemas import (
    DeleteAccountParams,
    ProfileParams,
    RegisterParams,
    UpdateProfileParams,
    VerifyEmailParams,
)
from common.db.batch_loader import BatchLoader
from common.db.idempotency import run_once
from common.db.pool import connection
from common.errors import Conflict, NotFound
from common.rpc.message import Request
from common.rpc.server import Method
from common.worker import WorkerContext
from user_app.account import Account, public_user
from user_app.admin import UserAdmin
from user_app.verification import EmailVerification, email_tokens


class UserService:
    def __init__(self, ctx: WorkerContext) -> None:
        self._ctx = ctx
        self._audit = Audit(ctx.redis, ctx.keys, ctx.queries)
        self._email_tokens = email_tokens(ctx)
        self._account = Account(ctx, self._audit, self._email_tokens)
        self._verification = EmailVerification(ctx, self._audit, self._email_tokens)
        self._admin = UserAdmin(ctx, self._audit)
        self._profiles: BatchLoader[int, asyncpg.Record] = BatchLoader(self._load_profiles)

    def methods(self) -> Mapping[str, Method]:
        return {
            "user.register": Method(self.register, RegisterParams()),
            "user.profile": Method(self.profile, ProfileParams()),
            "user.update_profile": Method(self._account.update, UpdateProfileParams()),
            "user.delete": Method(self._account.delete, DeleteAccountParams()),
            "user.verify_email": Method(self._verification.verify, VerifyEmailParams()),
            "user.resend_verification": Method(self._verification.resend, ProfileParams()),
            **self._admin.methods(),
        }

    async def register(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        return await self._ctx.once(request, lambda: self._register(params, request))

    async def _register(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx = self._ctx
        password_hash = await ctx.hasher.hash(params["password"])
        recorded = Recorded()
        outgoing: list[tuple[EmailMessage, str]] = []

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
            user = public_user(row)
            await self._audit.record(
                conn,
                request,
                "user.created",
                user_id=user["id"],
                data={"user": user},
                into=recorded,
            )
            token = await self._email_tokens.issue(
                conn, user_id=user["id"], email=user["email"], purpose=VERIFY
            )
            outgoing.append((self._email_tokens.verification(user["email"], token), "verification"))
            return {"user": user}

        result: dict[str, Any] = await run_once(ctx.pool, ctx.queries, request, insert)
        logger.info("registered user {}", result["user"]["id"])
        await self._audit.publish(recorded)
        # After the commit and off the caller's path: mail never fails a registration.
        self._email_tokens.send_all(outgoing)
        return result

    async def profile(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        row = await self._profiles.load(params["user_id"])
        if row is None:
            raise NotFound("User not found")
        return {
            "user": public_user(row)
            | {
                "email_verified": row["email_verified_at"] is not None,
                "pending_email": row["pending_email"],
            }
        }

    async def _load_profiles(self, user_ids: list[int]) -> dict[int, asyncpg.Record]:
        """Every profile asked for by the calls of one take, in one query."""
        async with connection(self._ctx.pool) as conn:
            rows = await self._ctx.queries.many(conn, "get_profiles_with_state", user_ids=user_ids)
        return {row["id"]: row for row in rows}


def build_methods(ctx: WorkerContext) -> Mapping[str, Method]:
    return UserService(ctx).methods()
