"""The end of every sign-in: account state, the second-factor policy, then the session.

Password login, passkey login and the OpenID Connect login page all finish in
``SignIn.complete(request, user_row, amr=...)``, which

1. checks the account's state (``account_check``: disabled, email not verified;
   the identity work fills it in, see ``no_account_check``);
2. applies the second-factor policy (the ``mfa_policy`` query): a user who
   has a second factor, signing in without one, gets ``mfa_required`` and an
   ``mfa_token`` for ``POST /api/auth/mfa/verify``; a user who must have one
   (``users.mfa_required``, or a role's) and has none gets
   ``mfa_enrolment_required`` and a token only the enrolment routes accept;
3. otherwise starts the session (its ``amr`` in ``user_sessions``), records
   ``users.last_login_at`` and answers what login answers.

No access or refresh token leaves before the last step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from loguru import logger

from auth_app.mfa.pending import PendingLogins
from auth_app.refresh import SessionTokens, public_user
from common.accounts.audit import Audit, Recorded
from common.db.pool import connection
from common.errors import Forbidden, InvalidToken
from common.rpc.message import Request
from common.worker import WorkerContext

# amr values (RFC 8176) that mean a second factor was proven.
SECOND_FACTOR_AMR = frozenset({"mfa", "otp", "hwk"})
# What a user who must enrol can enrol here (passkeys add theirs).
ENROLLABLE = ("totp",)

AccountCheck = Callable[[WorkerContext, asyncpg.Connection, asyncpg.Record], Awaitable[None]]
# Work a second step does in the transaction that starts the session (spending a code).
Within = Callable[[asyncpg.Connection, Recorded], Awaitable[None]]


async def no_account_check(
    ctx: WorkerContext, conn: asyncpg.Connection, user_row: asyncpg.Record
) -> None:
    """Until the identity work's ``check_account_state`` is plugged in: all may sign in."""


def proves_second_factor(amr: Sequence[str]) -> bool:
    return bool(SECOND_FACTOR_AMR.intersection(amr))


def second_factors(policy: asyncpg.Record) -> list[str]:
    """The factors a user can present at the second step, from the ``mfa_policy`` row."""
    factors = []
    if policy["totp_enabled"]:
        factors.append("totp")
        if policy["recovery_codes_left"]:
            factors.append("recovery_code")
    if policy["has_passkey"]:
        # POST /api/auth/webauthn/login/options and .../login with the mfa_token.
        factors.append("webauthn")
    return factors


class SignIn:
    def __init__(
        self,
        ctx: WorkerContext,
        tokens: SessionTokens,
        audit: Audit,
        pending: PendingLogins,
        *,
        account_check: AccountCheck = no_account_check,
    ) -> None:
        self._ctx = ctx
        self._tokens = tokens
        self._audit = audit
        self._pending = pending
        self._account_check = account_check

    @property
    def pending(self) -> PendingLogins:
        return self._pending

    async def complete(
        self,
        request: Request,
        user_row: asyncpg.Record,
        *,
        amr: Sequence[str],
        within: Within | None = None,
    ) -> dict[str, Any]:
        """The login answer for ``user_row``, whose first factor ``amr`` proved, or a challenge.

        ``within`` runs in the transaction that starts the session, before it.
        """
        ctx = self._ctx
        user_id = user_row["id"]
        async with connection(ctx.pool) as conn:
            try:
                await self._account_check(ctx, conn, user_row)
            except Forbidden as refused:
                # The first factor was right: the account may not sign in (disabled,
                # unverified), whichever way it tried.
                await self._refused(conn, request, user_id, amr, refused.code)
                raise
            policy = await ctx.queries.one(conn, "mfa_policy", user_id=user_id)
        if policy is None:
            raise InvalidToken("The account no longer exists")
        if not proves_second_factor(amr):
            factors = second_factors(policy)
            if factors:
                return await self._challenge(user_id, amr, "verify", factors)
            if policy["mfa_required"]:
                return await self._challenge(user_id, amr, "enrol", list(ENROLLABLE))
        return await self._start(request, user_row, amr=amr, within=within)

    async def user(self, user_id: int) -> asyncpg.Record:
        """The row a second step finishes the sign-in of; 401 when the account is gone."""
        async with connection(self._ctx.pool) as conn:
            row = await self._ctx.queries.one(conn, "get_signin_user", user_id=user_id)
        if row is None:
            raise InvalidToken("The account no longer exists")
        return row

    async def _refused(
        self,
        conn: asyncpg.Connection,
        request: Request,
        user_id: int,
        amr: Sequence[str],
        reason: str,
    ) -> None:
        recorded = Recorded()
        async with conn.transaction():
            await self._audit.record(
                conn,
                request,
                "login.refused",
                user_id=user_id,
                data={"reason": reason, "amr": list(amr)},
                into=recorded,
            )
        await self._audit.publish(recorded)

    async def _challenge(
        self, user_id: int, amr: Sequence[str], purpose: str, methods: list[str]
    ) -> dict[str, Any]:
        mfa_token = await self._pending.begin(user_id, amr=amr, purpose=purpose)
        flag = "mfa_required" if purpose == "verify" else "mfa_enrolment_required"
        logger.info("user {}: first factor proven, second step: {}", user_id, purpose)
        return {
            flag: True,
            "mfa_token": mfa_token,
            "methods": methods,
            "expires_in": round(self._ctx.settings.mfa.token_expires_in),
        }

    async def _start(
        self,
        request: Request,
        user_row: asyncpg.Record,
        *,
        amr: Sequence[str],
        within: Within | None,
    ) -> dict[str, Any]:
        ctx = self._ctx
        recorded = Recorded()
        try:
            async with connection(ctx.pool) as conn, conn.transaction():
                # Again, in the transaction that makes the session and with the
                # row locked: a disable committing meanwhile either comes first
                # (refused here) or waits for this session and then ends it.
                await self._account_check(ctx, conn, user_row)
                if within is not None:
                    await within(conn, recorded)
                issued = await self._tokens.start(conn, request, user_row, amr=amr, into=recorded)
                await ctx.queries.execute(conn, "record_last_login", user_id=user_row["id"])
        except Forbidden as refused:
            async with connection(ctx.pool) as conn:
                await self._refused(conn, request, user_row["id"], amr, refused.code)
            raise
        await self._tokens.mirror_live(issued.session_id, user_row["id"], issued.session_expires)
        await self._audit.publish(recorded)
        logger.info(
            "user {} logged in ({}), session {}", user_row["id"], ",".join(amr), issued.session_id
        )
        return issued.answer(public_user(user_row))
