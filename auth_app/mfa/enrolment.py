"""A user's own TOTP: its state, enrolment (start, confirm), turning it off, new recovery codes.

Enrolment is started by a signed-in user with the current password, or, at a
login that requires a second factor the user does not have, with the
enrolment ``mfa_token`` instead (then confirming it finishes that login).

Exactly once: turning TOTP off runs once per message id (``ctx.once``). The
confirmation and regeneration answer recovery codes, which must not be
stored in the clear anywhere, the reply store included; they are instead
safe to redeliver by construction: a redelivered confirmation finds the
secret on and its code spent (409 / 401), a redelivered regeneration with a
code finds the code spent, with the password it makes another set, and in
every case the codes last answered are the ones that work.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from auth_app.mfa import totp
from auth_app.mfa.factors import SecondFactor
from auth_app.mfa.pending import PendingLogin
from auth_app.signin import SignIn, second_factors
from common.accounts.audit import Audit, Recorded
from common.accounts.credentials import verify_own_password
from common.accounts.sessions import SessionEnder
from common.db.idempotency import run_once
from common.db.pool import connection
from common.errors import Conflict, InvalidToken
from common.rpc.message import Request
from common.worker import WorkerContext

NOT_ON = "Two-factor authentication is not on"


class MfaEnrolment:
    def __init__(
        self,
        ctx: WorkerContext,
        audit: Audit,
        ender: SessionEnder,
        factor: SecondFactor,
        signin: SignIn,
    ) -> None:
        self._ctx = ctx
        self._audit = audit
        self._ender = ender
        self._factor = factor
        self._signin = signin

    async def state(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        async with connection(self._ctx.pool) as conn:
            policy = await self._ctx.queries.one(conn, "mfa_policy", user_id=params["user_id"])
        if policy is None:
            raise InvalidToken("The token's user no longer exists")
        return {
            "methods": second_factors(policy),
            "totp": {"enabled": policy["totp_enabled"], "pending": policy["totp_pending"]},
            "recovery_codes_left": policy["recovery_codes_left"] if policy["totp_enabled"] else 0,
            "required": policy["mfa_required"],
        }

    async def start(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        user_id = params["user_id"]
        await verify_own_password(
            self._ctx, user_id=user_id, password=params["password"], wrong="Password is incorrect"
        )
        return await self._begin(user_id)

    async def start_for_enrolment(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        pending = await self._enrolling(params["mfa_token"])
        return await self._begin(pending.user_id)

    async def confirm(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        user_id = params["user_id"]
        codes = totp.new_recovery_codes()
        recorded = Recorded()
        async with (
            self._factor.attempt(request, user_id),
            connection(self._ctx.pool) as conn,
            conn.transaction(),
        ):
            await self._enable(conn, request, user_id, params["code"], codes, recorded)
        await self._audit.publish(recorded)
        return {"recovery_codes": codes}

    async def confirm_for_enrolment(
        self, params: dict[str, Any], request: Request
    ) -> dict[str, Any]:
        """Turn TOTP on and finish the login that required it: the login answer plus the codes."""
        mfa_token = params["mfa_token"]
        pending = await self._enrolling(mfa_token)
        user = await self._signin.user(pending.user_id)
        codes = totp.new_recovery_codes()

        async def enable_and_spend(conn: asyncpg.Connection, recorded: Recorded) -> None:
            await self._enable(conn, request, pending.user_id, params["code"], codes, recorded)
            if await self._signin.pending.take(mfa_token) is None:
                raise InvalidToken("mfa_token already used or expired; log in again")

        async with self._factor.attempt(request, pending.user_id):
            answer = await self._signin.complete(
                request, user, amr=(*pending.amr, "otp", "mfa"), within=enable_and_spend
            )
        return answer | {"recovery_codes": codes}

    async def disable(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        return await self._ctx.once(request, lambda: self._disable(params, request))

    async def regenerate(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        """New recovery codes (the old ones void), for the password or a code."""
        ctx, user_id = self._ctx, params["user_id"]
        await self._require_on(user_id)
        codes = totp.new_recovery_codes()
        recorded = Recorded()

        async def replace(conn: asyncpg.Connection, proven_by: str) -> None:
            await self._store_codes(conn, user_id, codes)
            await self._audit.record(
                conn,
                request,
                "mfa.recovery_codes_regenerated",
                user_id=user_id,
                data={"proven_by": proven_by},
                into=recorded,
            )

        if params.get("password") is not None:
            await verify_own_password(
                ctx, user_id=user_id, password=params["password"], wrong="Password is incorrect"
            )
            async with connection(ctx.pool) as conn, conn.transaction():
                await replace(conn, "password")
        else:
            async with (
                self._factor.attempt(request, user_id),
                connection(ctx.pool) as conn,
                conn.transaction(),
            ):
                proof = await self._factor.prove(
                    conn,
                    request,
                    user_id,
                    code=params.get("code"),
                    recovery_code=params.get("recovery_code"),
                    into=recorded,
                )
                await replace(conn, proof.method)
        await self._audit.publish(recorded)
        return {"recovery_codes": codes}

    async def _disable(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx, user_id = self._ctx, params["user_id"]
        await self._require_on(user_id)
        await verify_own_password(
            ctx, user_id=user_id, password=params["password"], wrong="Password is incorrect"
        )
        recorded = Recorded()

        async def turn_off(conn: asyncpg.Connection) -> dict[str, Any]:
            proof = await self._factor.prove(
                conn,
                request,
                user_id,
                code=params.get("code"),
                recovery_code=params.get("recovery_code"),
                into=recorded,
            )
            if await ctx.queries.value(conn, "delete_totp", user_id=user_id) is None:
                raise Conflict(NOT_ON)
            await ctx.queries.execute(conn, "delete_recovery_codes", user_id=user_id)
            await self._audit.record(
                conn,
                request,
                "mfa.totp_disabled",
                user_id=user_id,
                data={"proven_by": proof.method},
                into=recorded,
            )
            ended = await ctx.queries.many(
                conn,
                "end_other_sessions",
                session_id=params["session_id"],
                user_id=user_id,
                reason="mfa_disabled",
            )
            count = await self._ender.ended(
                conn, request, ended, user_id=user_id, reason="mfa_disabled", into=recorded
            )
            return {"sessions_ended": count}

        async with self._factor.attempt(request, user_id):
            result: dict[str, Any] = await run_once(ctx.pool, ctx.queries, request, turn_off)
        await self._audit.publish(recorded)
        return result

    async def _enrolling(self, mfa_token: str) -> PendingLogin:
        pending = await self._signin.pending.peek(mfa_token)
        if pending is None or pending.purpose != "enrol":
            raise InvalidToken("Unknown or expired enrolment token; log in again")
        return pending

    async def _begin(self, user_id: int) -> dict[str, Any]:
        user = await self._signin.user(user_id)
        secret = totp.new_secret()
        async with connection(self._ctx.pool) as conn:
            began = await self._ctx.queries.value(
                conn,
                "begin_totp_enrolment",
                user_id=user_id,
                sealed_secret=self._factor.seal_secret(user_id, secret),
            )
        if began is None:
            raise Conflict("Two-factor authentication is already on; turn it off first")
        uri = totp.provisioning_uri(
            secret, account=user["username"], issuer=self._ctx.settings.mfa.totp_issuer
        )
        # Drawing the QR code takes milliseconds of CPU: off the event loop.
        svg = await asyncio.to_thread(totp.qr_svg, uri)
        return {"secret": secret, "otpauth_uri": uri, "qr_svg": svg}

    async def _enable(
        self,
        conn: asyncpg.Connection,
        request: Request,
        user_id: int,
        code: str,
        codes: list[str],
        into: Recorded,
    ) -> None:
        if not await self._factor.confirm_enrolment(conn, user_id, code):
            raise Conflict("No enrolment in progress: POST /api/auth/mfa/totp first")
        await self._store_codes(conn, user_id, codes)
        await self._audit.record(conn, request, "mfa.totp_enrolled", user_id=user_id, into=into)

    async def _store_codes(self, conn: asyncpg.Connection, user_id: int, codes: list[str]) -> None:
        queries = self._ctx.queries
        await queries.execute(conn, "delete_recovery_codes", user_id=user_id)
        await queries.execute(
            conn,
            "insert_recovery_codes",
            user_id=user_id,
            code_hashes=[totp.recovery_code_hash(user_id, code) for code in codes],
        )

    async def _require_on(self, user_id: int) -> None:
        async with connection(self._ctx.pool) as conn:
            row = await self._ctx.queries.one(conn, "get_totp", user_id=user_id)
        if row is None or row["confirmed_at"] is None:
            raise Conflict(NOT_ON)
