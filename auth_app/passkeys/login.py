"""Passkey sign-in: options (a challenge, maybe bound to an account), then the assertion.

A sign-in ends in ``SignIn.complete`` with amr ``hwk user mfa``: a passkey is
something you have, unlocked by something you know or are (user verification
is required), so it is two factors at once. Given the ``mfa_token`` of a login
that waits for its second factor, the passkey is that factor and the answer
is the finished login. Every refusal answers the same 401; the audit trail
keeps the reason.
"""

from __future__ import annotations

import hmac
from typing import Any

import asyncpg
from loguru import logger

from auth_app.mfa.pending import PendingLogin, PendingLogins
from auth_app.passkeys.ceremonies import LOGIN, Ceremonies, Ceremony, new_challenge
from auth_app.passkeys.credentials import decode_base64url
from auth_app.passkeys.verification import Refused, authentication_options, verify_assertion
from auth_app.signin import SignIn
from common.accounts.audit import Audit, Recorded
from common.db.pool import connection
from common.errors import InvalidCredentials, InvalidToken, ValidationFailed
from common.rpc.message import Request
from common.worker import WorkerContext

PASSKEY_AMR = ("hwk", "user", "mfa")
LOGIN_REFUSED = "Passkey not accepted; start the sign-in again"


class PasskeySignIn:
    def __init__(
        self,
        ctx: WorkerContext,
        audit: Audit,
        ceremonies: Ceremonies,
        signin: SignIn,
        pending: PendingLogins,
    ) -> None:
        self._ctx = ctx
        self._audit = audit
        self._settings = ctx.settings.webauthn
        self._ceremonies = ceremonies
        self._signin = signin
        self._pending = pending

    async def login_options(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx = self._ctx
        pending: PendingLogin | None = None
        user_id: int | None = None
        if params.get("mfa_token"):
            pending = await self._take_pending(params["mfa_token"])
            user_id = pending.user_id
        allowed: list[Any] = []
        async with connection(ctx.pool) as conn:
            login = params.get("username") or params.get("email")
            if login:
                found = await ctx.queries.one(conn, "webauthn_user_by_login", login=login.strip())
                user_id = found["id"] if found is not None else None
            if user_id is not None:
                allowed = await ctx.queries.many(conn, "webauthn_user_credentials", user_id=user_id)
        challenge = new_challenge()
        options = authentication_options(self._settings, challenge=challenge, allowed=allowed)
        # Bound to the account only when it has passkeys to offer: otherwise, like
        # an unknown name, any discoverable passkey may answer (and names its account).
        bound = user_id if (allowed or pending is not None) else None
        ceremony = await self._ceremonies.begin(
            Ceremony(LOGIN, challenge, user_id=bound, pending=pending)
        )
        return {"ceremony": ceremony, "publicKey": options}

    async def login(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ceremony = await self._ceremonies.take(params["ceremony"], LOGIN)
        if ceremony is None:
            await self._login_refused(request, None, "ceremony")
            raise InvalidCredentials(LOGIN_REFUSED)
        row = await self._verified_passkey(request, ceremony, params["credential"])
        owner = row["user_id"]
        pending = ceremony.pending
        if params.get("mfa_token"):
            if pending is not None:
                raise ValidationFailed(
                    details={"mfa_token": ["The options call of this ceremony took it already."]}
                )
            # Taken only now: a refused assertion leaves the token for another factor.
            pending = await self._take_pending(params["mfa_token"])
        if pending is not None and pending.user_id != owner:
            await self._login_refused(request, owner, "mfa_token_of_another_account", row["id"])
            raise InvalidCredentials(LOGIN_REFUSED)
        amr = tuple(dict.fromkeys((*(pending.amr if pending else ()), *PASSKEY_AMR)))
        async with connection(self._ctx.pool) as conn:
            user = await self._ctx.queries.one(conn, "webauthn_user", user_id=owner)
        if user is None:
            raise InvalidCredentials(LOGIN_REFUSED)
        answer = await self._signin.complete(request, user, amr=amr)
        await self._record(
            request,
            "webauthn.login",
            owner,
            {"passkey_id": row["id"], "second_factor": pending is not None},
        )
        return answer

    async def _verified_passkey(
        self, request: Request, ceremony: Ceremony, credential: dict[str, Any]
    ) -> asyncpg.Record:
        """The stored passkey that signed this ceremony's challenge, its counter moved on."""
        ctx = self._ctx
        raw_id = decode_base64url(credential["rawId"])
        async with connection(ctx.pool) as conn:
            row = (
                await ctx.queries.one(conn, "webauthn_credential_by_id", credential_id=raw_id)
                if raw_id is not None
                else None
            )
        if row is None:
            await self._login_refused(request, None, "unknown_credential")
            raise InvalidCredentials(LOGIN_REFUSED)
        owner = row["user_id"]
        if ceremony.user_id is not None and owner != ceremony.user_id:
            await self._login_refused(request, owner, "other_account", row["id"])
            raise InvalidCredentials(LOGIN_REFUSED)
        handle = credential["response"].get("userHandle")
        if handle is not None and not hmac.compare_digest(
            decode_base64url(handle) or b"", bytes(row["user_handle"])
        ):
            await self._login_refused(request, owner, "user_handle", row["id"])
            raise InvalidCredentials(LOGIN_REFUSED)
        try:
            verified = await verify_assertion(
                self._settings,
                credential,
                challenge=ceremony.challenge,
                public_key=bytes(row["public_key"]),
            )
        except Refused as refused:
            await self._login_refused(request, owner, refused.reason, row["id"])
            raise InvalidCredentials(LOGIN_REFUSED) from refused
        await self._advance_counter(request, row, verified.new_sign_count)
        return row

    async def _take_pending(self, mfa_token: str) -> PendingLogin:
        pending = await self._pending.take(mfa_token)
        # An "enrol" token opens the enrolment routes only.
        if pending is None or pending.purpose != "verify":
            raise InvalidToken("The mfa_token is unknown, used or expired; log in again")
        return pending

    async def _advance_counter(self, request: Request, row: asyncpg.Record, count: int) -> None:
        """Move the stored counter to ``count``, or refuse: an authenticator's counter
        that did not move forward may be a clone of it."""
        ctx = self._ctx
        async with connection(ctx.pool) as conn:
            advanced = await ctx.queries.one(
                conn, "advance_webauthn_sign_count", id=row["id"], sign_count=count
            )
        if advanced is None:
            logger.warning(
                "passkey {} of user {}: sign count {} after {}; refused",
                row["id"],
                row["user_id"],
                count,
                row["sign_count"],
            )
            await self._record(
                request,
                "webauthn.sign_count_regressed",
                row["user_id"],
                {"passkey_id": row["id"], "stored": row["sign_count"], "presented": count},
            )
            raise InvalidCredentials(LOGIN_REFUSED)

    async def _login_refused(
        self, request: Request, user_id: int | None, reason: str, passkey_id: int | None = None
    ) -> None:
        logger.info("passkey sign-in refused: {}", reason)
        data: dict[str, Any] = {"reason": reason}
        if passkey_id is not None:
            data["passkey_id"] = passkey_id
        await self._record(request, "webauthn.login_failed", user_id, data)

    async def _record(
        self, request: Request, event_type: str, user_id: int | None, data: dict[str, Any]
    ) -> None:
        """One audit event in a transaction of its own, then published."""
        recorded = Recorded()
        async with connection(self._ctx.pool) as conn, conn.transaction():
            await self._audit.record(
                conn, request, event_type, user_id=user_id, data=data, into=recorded
            )
        await self._audit.publish(recorded)
