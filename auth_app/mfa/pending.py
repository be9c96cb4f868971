"""Logins waiting for their second factor: the minimal version of the shared contract.

The mfa branch owns this module; this version is written to exactly the
interface of the contract the issue 12 and 13 branches share, so that
passkeys can finish a pending login, and is replaced by the mfa branch's at
merge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from common import json_codec
from common.keys import Keys
from common.security.opaque_tokens import new_token, token_hash


@dataclass(frozen=True, slots=True)
class PendingLogin:
    user_id: int
    amr: tuple[str, ...]  # how the first factor was proven, e.g. ("pwd",)
    purpose: str  # "verify" (second step) or "enrol" (must enrol first)


class PendingLogins:
    def __init__(self, redis: Redis, keys: Keys, ttl: float) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl = ttl

    async def begin(self, user_id: int, *, amr: Sequence[str], purpose: str) -> str:
        """A new mfa_token for ``user_id``; only its hash is a key."""
        token = new_token()
        state = {"user_id": user_id, "amr": list(amr), "purpose": purpose}
        await self._redis.set(
            self._keys.pending_login(token_hash(token)),
            json_codec.dumps(state),
            px=max(1, round(self._ttl * 1000)),
        )
        return token

    async def take(self, mfa_token: str) -> PendingLogin | None:
        """The pending login of ``mfa_token``, once: GETDEL, so a second take finds nothing."""
        raw = await self._redis.getdel(self._keys.pending_login(token_hash(mfa_token)))
        if raw is None:
            return None
        state = json_codec.loads(raw)
        return PendingLogin(int(state["user_id"]), tuple(state["amr"]), str(state["purpose"]))
