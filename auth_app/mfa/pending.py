"""Logins waiting for a second step: proven by a first factor, not yet given tokens.

``begin`` answers an ``mfa_token`` (256 random bits) that stands for the
pending login in Redis, stored under its SHA-256 and expiring on its own;
``take`` spends it (GETDEL: of two concurrent takes, one gets it). Purpose
``verify``: the user has a second factor and must present it
(``POST /api/auth/mfa/verify``). Purpose ``enrol``: a second factor is
required and the user has none; only the enrolment routes accept the token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from common import json_codec
from common.errors import ServiceUnavailable
from common.keys import Keys
from common.security.opaque_tokens import new_token, token_hash

PURPOSES = ("verify", "enrol")


@dataclass(frozen=True, slots=True)
class PendingLogin:
    user_id: int
    amr: tuple[str, ...]  # how the first factor was proven, e.g. ("pwd",)
    purpose: str  # "verify" (second step) or "enrol" (must enrol first)


class PendingLogins:
    def __init__(self, redis: Redis, keys: Keys, ttl: float) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl_ms = max(1, round(ttl * 1000))

    async def begin(self, user_id: int, *, amr: Sequence[str], purpose: str) -> str:
        """A new mfa_token for ``user_id``'s pending login, valid for the ttl."""
        if purpose not in PURPOSES:
            raise ValueError(f"unknown pending-login purpose {purpose!r}")
        mfa_token = new_token()
        record = {"user_id": user_id, "amr": list(amr), "purpose": purpose}
        try:
            await self._redis.set(self._key(mfa_token), json_codec.dumps(record), px=self._ttl_ms)
        except RedisError as exc:
            raise ServiceUnavailable("Session store unreachable") from exc
        return mfa_token

    async def take(self, mfa_token: str) -> PendingLogin | None:
        """The pending login, spent (single use); None when unknown, expired or already taken."""
        return await self._read(mfa_token, spend=True)

    async def peek(self, mfa_token: str) -> PendingLogin | None:
        """The pending login, left in place: for checks made before it is spent."""
        return await self._read(mfa_token, spend=False)

    async def _read(self, mfa_token: str, *, spend: bool) -> PendingLogin | None:
        key = self._key(mfa_token)
        try:
            raw = await (self._redis.getdel(key) if spend else self._redis.get(key))
        except RedisError as exc:
            raise ServiceUnavailable("Session store unreachable") from exc
        if raw is None:
            return None
        record = json_codec.loads(raw)
        return PendingLogin(int(record["user_id"]), tuple(record["amr"]), str(record["purpose"]))

    def _key(self, mfa_token: str) -> str:
        return self._keys.pending_login(token_hash(mfa_token))
