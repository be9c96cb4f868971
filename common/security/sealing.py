"""AEAD sealing (AES-256-GCM, ``cryptography``): opened only with its key, never altered unseen.

Two kinds of key:

- ``seal_for_token`` / ``unseal_for_token``: a key derived by HKDF-SHA256 from a
  256-bit bearer token, for a value only that token's holder may read (a
  rotated refresh token's successor pair). The database holds no usable key.
- ``KeyRing``: keys from configuration (``MFA_ENCRYPTION_KEYS``), each with an
  id written into what it sealed, so that the first key seals and every key
  unseals: a rotation adds a key in front and keeps the old one until nothing
  sealed with it is left.

Associated data binds a sealed value to its place (the row's token hash, the
owner's user id): copied into another row, it no longer opens. Anything that
fails the tag (a flipped byte, a truncation, another key, another place, the
format before this one) raises ``SealBroken``: callers fail closed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12
TAG_BYTES = 16
# First byte of a sealed value. Version 1 (an unauthenticated XOR keystream)
# had no header at all; its rows fail the tag like any other broken value.
TOKEN_SEALED = b"\x02"
KEY_RING_SEALED = b"\x01"
_TOKEN_KEY_INFO = b"gatehouse sealed-by-token v2"


class SealBroken(Exception):
    """A sealed value that does not open: tampered, truncated, another key or another place."""


def _token_key(token: str) -> AESGCM:
    # No salt: the token is 256 random bits, already a uniform key.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_TOKEN_KEY_INFO).derive(
        token.encode()
    )
    return AESGCM(key)


def seal_for_token(token: str, plaintext: bytes, *, bound_to: bytes) -> bytes:
    """``plaintext`` readable again only with ``token``, and only where ``bound_to`` matches."""
    nonce = os.urandom(NONCE_BYTES)
    return TOKEN_SEALED + nonce + _token_key(token).encrypt(nonce, plaintext, bound_to)


def unseal_for_token(token: str, sealed: bytes, *, bound_to: bytes) -> bytes:
    if len(sealed) < 1 + NONCE_BYTES + TAG_BYTES or sealed[:1] != TOKEN_SEALED:
        raise SealBroken("not a sealed value of this format")
    nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    try:
        return _token_key(token).decrypt(nonce, body, bound_to)
    except InvalidTag:
        raise SealBroken("sealed value failed authentication") from None


class KeyRing:
    """Configured keys by id: ``seal`` with the first, ``unseal`` with whichever sealed."""

    def __init__(self, keys: Iterable[tuple[str, bytes]]) -> None:
        self._keys = {kid: AESGCM(key) for kid, key in keys}
        if not self._keys:
            raise ValueError("a key ring needs at least one key")
        self.current = next(iter(self._keys))

    def seal(self, plaintext: bytes, *, bound_to: bytes) -> bytes:
        header = KEY_RING_SEALED + bytes([len(self.current)]) + self.current.encode()
        nonce = os.urandom(NONCE_BYTES)
        # The header (format and key id) is authenticated too.
        sealed = self._keys[self.current].encrypt(nonce, plaintext, header + bound_to)
        return header + nonce + sealed

    def unseal(self, sealed: bytes, *, bound_to: bytes) -> bytes:
        kid, header = self._header(sealed)
        aead = self._keys.get(kid)
        if aead is None:
            raise SealBroken(f"sealed with key {kid!r}, which is not configured")
        nonce = sealed[len(header) : len(header) + NONCE_BYTES]
        body = sealed[len(header) + NONCE_BYTES :]
        try:
            return aead.decrypt(nonce, body, header + bound_to)
        except InvalidTag:
            raise SealBroken("sealed value failed authentication") from None

    def sealed_with_current(self, sealed: bytes) -> bool:
        """Whether ``sealed`` names the current key (else it is worth sealing anew)."""
        try:
            return self._header(sealed)[0] == self.current
        except SealBroken:
            return False

    @staticmethod
    def _header(sealed: bytes) -> tuple[str, bytes]:
        if len(sealed) < 2 or sealed[:1] != KEY_RING_SEALED:
            raise SealBroken("not a sealed value of this format")
        end = 2 + sealed[1]
        if len(sealed) < end + NONCE_BYTES + TAG_BYTES:
            raise SealBroken("sealed value truncated")
        try:
            kid = sealed[2:end].decode("ascii")
        except UnicodeDecodeError:
            raise SealBroken("sealed value names no key") from None
        return kid, sealed[:end]
