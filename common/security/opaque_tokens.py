"""Opaque bearer secrets (refresh and password reset tokens): made, hashed, sealed.

Only a token's SHA-256 is stored. A token is 256 random bits, so a plain hash
is enough: there is nothing to guess that a slow hash would protect.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32
_SEAL_CONTEXT = b"gatehouse sealed-by-token v1\x00"


def new_token() -> str:
    """256 random bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def seal(token: str, plaintext: bytes) -> bytes:
    """``plaintext`` readable again only by whoever holds ``token``.

    XOR with a SHAKE-256 keystream keyed by the token: each token is random
    and seals exactly one value, so the keystream is never reused, and the
    stored bytes tell someone without the token nothing.
    """
    stream = hashlib.shake_256(_SEAL_CONTEXT + token.encode()).digest(len(plaintext))
    return bytes(a ^ b for a, b in zip(plaintext, stream, strict=True))


def unseal(token: str, sealed: bytes) -> bytes:
    return seal(token, sealed)
