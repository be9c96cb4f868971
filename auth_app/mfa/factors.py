"""Proving a second factor: a TOTP code or a recovery code, throttled, each accepted once.

Every check runs inside ``SecondFactor.attempt``: the failed-login throttle
(auth_app/throttle.py) in windows of its own (``mfa-`` keys), with the same
limits, per account, per address and per pair. A wrong code counts as a
failure there, is audited (``mfa.failed``) in a transaction of its own and
answers 401; past the limits, 429 with Retry-After before anything is
checked. What a code consumes (its step, a recovery code) is written on the
caller's connection, in the caller's transaction, by one conditional update:
of two concurrent uses of one code, one wins.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from loguru import logger

from auth_app.mfa import totp
from auth_app.throttle import LoginThrottle, account_subject
from common.accounts.audit import Audit, Recorded
from common.db.pool import connection
from common.errors import InvalidCredentials, RateLimited
from common.rpc.message import Request
from common.security.sealing import KeyRing, SealBroken
from common.worker import WorkerContext

TOTP = "totp"
RECOVERY_CODE = "recovery_code"


class WrongCode(Exception):
    """A code that does not prove the factor; ``reason`` goes to the audit trail only."""

    def __init__(self, method: str, reason: str) -> None:
        super().__init__(f"{method}: {reason}")
        self.method = method
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Proof:
    method: str  # TOTP or RECOVERY_CODE
    recovery_codes_left: int | None = None


class SecondFactor:
    def __init__(self, ctx: WorkerContext, audit: Audit) -> None:
        self._ctx = ctx
        self._audit = audit
        self._ring = KeyRing(ctx.settings.mfa.encryption_keys)
        self._throttle = LoginThrottle(
            ctx.redis,
            ctx.keys,
            ctx.settings.limits.login_throttle,
            ctx.replicas,
            namespace="mfa-",
            refusal="Too many wrong codes; try again later",
        )

    def seal_secret(self, user_id: int, secret: str) -> bytes:
        return self._ring.seal(secret.encode(), bound_to=totp.sealed_place(user_id))

    def open_secret(self, user_id: int, sealed: bytes) -> str:
        """The TOTP secret, or 401 when its seal does not open (fail closed, logged)."""
        try:
            return self._ring.unseal(bytes(sealed), bound_to=totp.sealed_place(user_id)).decode()
        except SealBroken as exc:
            logger.error("user {}: sealed TOTP secret refused: {}", user_id, exc)
            raise InvalidCredentials(
                "The second factor cannot be checked; contact support"
            ) from None

    @asynccontextmanager
    async def attempt(self, request: Request, user_id: int) -> AsyncIterator[None]:
        """One throttled check of ``user_id``'s codes; a WrongCode inside becomes a counted 401."""
        try:
            admitted = await self._throttle.begin(account_subject(user_id, ""), request.client_ip)
        except RateLimited:
            await self._record_alone(request, "mfa.throttled", user_id, {})
            raise
        try:
            yield
        except WrongCode as wrong:
            await admitted.failed()
            await self._record_alone(
                request, "mfa.failed", user_id, {"method": wrong.method, "reason": wrong.reason}
            )
            raise InvalidCredentials("Wrong or already used code") from None
        except BaseException:
            await admitted.released()
            raise
        await admitted.succeeded()

    async def prove(
        self,
        conn: asyncpg.Connection,
        request: Request,
        user_id: int,
        *,
        code: str | None,
        recovery_code: str | None,
        into: Recorded,
    ) -> Proof:
        """Check and spend one code on ``conn``, in the caller's transaction; or raise WrongCode."""
        if code is not None:
            await self._spend_totp(conn, user_id, code)
            return Proof(TOTP)
        if recovery_code is None:
            raise ValueError("prove needs a code or a recovery code")
        left = await self._spend_recovery_code(conn, user_id, recovery_code)
        await self._audit.record(
            conn,
            request,
            "mfa.recovery_code_used",
            user_id=user_id,
            data={"recovery_codes_left": left},
            into=into,
        )
        return Proof(RECOVERY_CODE, left)

    async def confirm_enrolment(self, conn: asyncpg.Connection, user_id: int, code: str) -> bool:
        """Turn a pending secret on with its first code; False when none is pending.

        A wrong code raises WrongCode.
        """
        queries = self._ctx.queries
        row = await queries.one(conn, "get_totp", user_id=user_id)
        if row is None or row["confirmed_at"] is not None:
            return False
        step = totp.matching_step(self.open_secret(user_id, row["sealed_secret"]), code)
        if step is None:
            raise WrongCode(TOTP, "wrong")
        return await queries.value(conn, "confirm_totp", user_id=user_id, step=step) is not None

    async def _spend_totp(self, conn: asyncpg.Connection, user_id: int, code: str) -> None:
        queries = self._ctx.queries
        row = await queries.one(conn, "get_totp", user_id=user_id)
        if row is None or row["confirmed_at"] is None:
            raise WrongCode(TOTP, "not_enabled")
        step = totp.matching_step(self.open_secret(user_id, row["sealed_secret"]), code)
        if step is None:
            raise WrongCode(TOTP, "wrong")
        if await queries.value(conn, "use_totp_step", user_id=user_id, step=step) is None:
            raise WrongCode(TOTP, "replayed")
        if not self._ring.sealed_with_current(bytes(row["sealed_secret"])):
            # Sealed with a key that is being rotated out: seal it with the new one.
            secret = self.open_secret(user_id, row["sealed_secret"])
            await queries.execute(
                conn,
                "reseal_totp",
                user_id=user_id,
                sealed_secret=self.seal_secret(user_id, secret),
            )

    async def _spend_recovery_code(self, conn: asyncpg.Connection, user_id: int, code: str) -> int:
        queries = self._ctx.queries
        used = await queries.value(
            conn,
            "use_recovery_code",
            user_id=user_id,
            code_hash=totp.recovery_code_hash(user_id, code),
        )
        if used is None:
            raise WrongCode(RECOVERY_CODE, "wrong")
        left: int = await queries.value(conn, "recovery_codes_left", user_id=user_id)
        return left

    async def _record_alone(
        self, request: Request, event_type: str, user_id: int, data: dict[str, Any]
    ) -> None:
        """An event about a refused attempt, in its own transaction (the attempt's rolls back)."""
        recorded = Recorded()
        async with connection(self._ctx.pool) as conn, conn.transaction():
            await self._audit.record(
                conn, request, event_type, user_id=user_id, data=data, into=recorded
            )
        await self._audit.publish(recorded)
