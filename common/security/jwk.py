"""JSON Web Keys: the public half of a key as a JWK (RFC 7517/8037) and its thumbprint.

The thumbprint (RFC 7638) is the key id (``kid``) of every token we sign: it is
computed from the key itself, so the gateway, the auth worker and any third
party agree on it without sharing anything but the public key.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PublicKey = Ed25519PublicKey | RSAPublicKey

# RFC 7638 section 3.2: the members a thumbprint covers, per key type.
THUMBPRINT_MEMBERS = {"OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n"), "oct": ("k", "kty")}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unsigned_bytes(number: int) -> bytes:
    return number.to_bytes(max(1, (number.bit_length() + 7) // 8), "big")


def public_jwk(key: PublicKey) -> dict[str, str]:
    """The key's public members only (never ``d``, ``p``, ``q``...)."""
    if isinstance(key, Ed25519PublicKey):
        raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
    numbers = key.public_numbers()
    return {
        "kty": "RSA",
        "n": b64url(_unsigned_bytes(numbers.n)),
        "e": b64url(_unsigned_bytes(numbers.e)),
    }


def secret_jwk(secret: bytes) -> dict[str, str]:
    """An HMAC secret as a JWK: only ever hashed into a thumbprint, never published."""
    return {"kty": "oct", "k": b64url(secret)}


def thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 SHA-256 thumbprint: the required members, sorted, no whitespace."""
    members = THUMBPRINT_MEMBERS[jwk["kty"]]
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())
