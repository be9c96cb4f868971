"""Opaque bearer secrets (refresh and password reset tokens): made and hashed.

Only a token's SHA-256 is stored. A token is 256 random bits, so a plain hash
is enough: there is nothing to guess that a slow hash would protect. Values
sealed with a token use common/security/sealing.py (AEAD).
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32


def new_token() -> str:
    """256 random bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
