"""The challenges of passkey ceremonies: random, single use, short-lived, bound.

An options call stores its challenge under a new ceremony id and answers
both; the call that answers it names the ceremony and takes the challenge
with GETDEL, so a replayed response finds nothing. What the ceremony is bound
to travels with it: the registering user, or the account a sign-in must be
(named by username or by a pending login's mfa_token).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from auth_app.mfa.pending import PendingLogin
from common import json_codec
from common.errors import ServiceUnavailable
from common.keys import Keys
from common.security.opaque_tokens import new_token, token_hash

CHALLENGE_BYTES = 32
REGISTER = "register"
LOGIN = "login"


@dataclass(frozen=True, slots=True)
class Ceremony:
    kind: str  # REGISTER or LOGIN
    challenge: bytes
    # REGISTER: the caller. LOGIN: the only account whose passkey may answer, if any.
    user_id: int | None = None
    # REGISTER: the WebAuthn user.id the authenticator keeps with the new passkey.
    user_handle: bytes | None = None
    # LOGIN: the pending login (taken from its mfa_token) this sign-in finishes.
    pending: PendingLogin | None = None


def new_challenge() -> bytes:
    return secrets.token_bytes(CHALLENGE_BYTES)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


class Ceremonies:
    def __init__(self, redis: Redis, keys: Keys, ttl: float) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl_ms = max(1, round(ttl * 1000))

    async def begin(self, ceremony: Ceremony) -> str:
        """Store ``ceremony`` for the TTL; its id (only the id's hash names the key)."""
        ceremony_id = new_token()
        state = {
            "kind": ceremony.kind,
            "challenge": _b64(ceremony.challenge),
            "user_id": ceremony.user_id,
            "user_handle": _b64(ceremony.user_handle) if ceremony.user_handle else None,
            "pending": None
            if ceremony.pending is None
            else {
                "user_id": ceremony.pending.user_id,
                "amr": list(ceremony.pending.amr),
                "purpose": ceremony.pending.purpose,
            },
        }
        try:
            await self._redis.set(
                self._keys.webauthn_ceremony(token_hash(ceremony_id)),
                json_codec.dumps(state),
                px=self._ttl_ms,
            )
        except RedisError as exc:
            raise ServiceUnavailable("Challenge store unreachable") from exc
        return ceremony_id

    async def take(self, ceremony_id: str, kind: str) -> Ceremony | None:
        """The ceremony, once (GETDEL); None when unknown, used, expired or of another kind."""
        try:
            raw = await self._redis.getdel(self._keys.webauthn_ceremony(token_hash(ceremony_id)))
        except RedisError as exc:
            raise ServiceUnavailable("Challenge store unreachable") from exc
        if raw is None:
            return None
        state = json_codec.loads(raw)
        if state["kind"] != kind:
            return None
        pending = state["pending"]
        return Ceremony(
            kind=kind,
            challenge=base64.urlsafe_b64decode(state["challenge"]),
            user_id=state["user_id"],
            user_handle=base64.urlsafe_b64decode(state["user_handle"])
            if state["user_handle"]
            else None,
            pending=None
            if pending is None
            else PendingLogin(pending["user_id"], tuple(pending["amr"]), pending["purpose"]),
        )
