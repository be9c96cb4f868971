"""Verified tokens remembered until they expire, so a client's every call does
not pay for the same signature check again.

An entry is keyed by the whole token, signature included, so only the very
same bytes can hit it, and it is used only while the token's own ``exp`` is in
the future: a cached answer never outlives the token nor covers another one.
Whether the token's session is still live is not cached: that is checked on
every call (see gateway_app/auth.py).
"""

from __future__ import annotations

import time
from typing import Protocol

from common.security.tokens import TokenClaims

# About 400 bytes a token plus its claims: a few MB at most.
DEFAULT_CAPACITY = 10_000


class Verifier(Protocol):
    def verify(self, token: str) -> TokenClaims: ...


class VerifiedTokens:
    def __init__(self, verifier: Verifier, *, capacity: int = DEFAULT_CAPACITY) -> None:
        self._verifier = verifier
        self._capacity = capacity
        self._verified: dict[str, TokenClaims] = {}

    def verify(self, token: str) -> TokenClaims:
        """The token's claims; InvalidToken (401) as from ``TokenVerifier.verify``."""
        claims = self._verified.get(token)
        if claims is not None:
            # PyJWT refuses a token once now >= exp; so does the cache.
            if time.time() < claims.expires_at:
                return claims
            del self._verified[token]
        claims = self._verifier.verify(token)
        if len(self._verified) >= self._capacity:
            # Oldest entry out (dicts keep insertion order): a bounded memory,
            # and a busy client's token is simply verified once more.
            del self._verified[next(iter(self._verified))]
        self._verified[token] = claims
        return claims

    def __len__(self) -> int:
        return len(self._verified)
