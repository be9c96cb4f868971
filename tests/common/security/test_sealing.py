"""AEAD sealing: only the right key and place open a sealed value, and any change is refused."""

from __future__ import annotations

import hashlib

import pytest

from common.security.opaque_tokens import new_token
from common.security.sealing import (
    KeyRing,
    SealBroken,
    seal_for_token,
    unseal_for_token,
)

PLAINTEXT = b'{"refresh_token": "successor", "token": "eyJ..."}' * 5
KEY_A = bytes(range(32))
KEY_B = bytes(range(32, 64))


def flipped(sealed: bytes, index: int) -> bytes:
    return sealed[:index] + bytes([sealed[index] ^ 0x01]) + sealed[index + 1 :]


def test_a_token_seal_opens_with_its_token_and_place_only():
    token = new_token()
    sealed = seal_for_token(token, PLAINTEXT, bound_to=b"row-1")

    assert PLAINTEXT not in sealed
    assert unseal_for_token(token, sealed, bound_to=b"row-1") == PLAINTEXT
    with pytest.raises(SealBroken):
        unseal_for_token(new_token(), sealed, bound_to=b"row-1")
    with pytest.raises(SealBroken):
        unseal_for_token(token, sealed, bound_to=b"row-2")


@pytest.mark.parametrize("index", [0, 1, 12, 13, -1])
def test_a_token_seal_with_any_byte_flipped_is_refused(index: int):
    token = new_token()
    sealed = seal_for_token(token, PLAINTEXT, bound_to=b"row")
    with pytest.raises(SealBroken):
        unseal_for_token(token, flipped(sealed, index % len(sealed)), bound_to=b"row")


def test_truncated_and_empty_seals_are_refused():
    token = new_token()
    sealed = seal_for_token(token, PLAINTEXT, bound_to=b"row")
    for broken in (b"", sealed[:1], sealed[:28], sealed[:-1]):
        with pytest.raises(SealBroken):
            unseal_for_token(token, broken, bound_to=b"row")


def test_the_old_xor_format_fails_closed():
    """Rows sealed before the change (XOR with SHAKE-256, no tag) do not open."""
    token = new_token()
    stream = hashlib.shake_256(b"gatehouse sealed-by-token v1\x00" + token.encode())
    old = bytes(a ^ b for a, b in zip(PLAINTEXT, stream.digest(len(PLAINTEXT)), strict=True))
    with pytest.raises(SealBroken):
        unseal_for_token(token, old, bound_to=b"row")


def test_one_token_sealing_twice_uses_fresh_nonces():
    token = new_token()
    assert seal_for_token(token, PLAINTEXT, bound_to=b"r") != seal_for_token(
        token, PLAINTEXT, bound_to=b"r"
    )


def test_the_key_ring_seals_with_the_first_key_and_opens_with_any():
    old_ring = KeyRing([("a", KEY_A)])
    sealed_by_a = old_ring.seal(b"JBSWY3DPEHPK3PXP", bound_to=b"totp:7")
    rotated = KeyRing([("b", KEY_B), ("a", KEY_A)])

    assert rotated.unseal(sealed_by_a, bound_to=b"totp:7") == b"JBSWY3DPEHPK3PXP"
    assert not rotated.sealed_with_current(sealed_by_a)
    sealed_by_b = rotated.seal(b"JBSWY3DPEHPK3PXP", bound_to=b"totp:7")
    assert rotated.sealed_with_current(sealed_by_b)
    with pytest.raises(SealBroken, match="not configured"):
        old_ring.unseal(sealed_by_b, bound_to=b"totp:7")


def test_the_key_ring_refuses_tampering_another_place_and_a_swapped_key_id():
    ring = KeyRing([("a", KEY_A), ("b", KEY_B)])
    sealed = ring.seal(b"secret", bound_to=b"totp:7")

    with pytest.raises(SealBroken):
        ring.unseal(sealed, bound_to=b"totp:8")
    for index in range(len(sealed)):
        with pytest.raises(SealBroken):
            ring.unseal(flipped(sealed, index), bound_to=b"totp:7")
    # The same bytes relabelled with the other key's id (same length): refused.
    with pytest.raises(SealBroken):
        ring.unseal(sealed[:2] + b"b" + sealed[3:], bound_to=b"totp:7")


def test_a_key_ring_needs_a_key():
    with pytest.raises(ValueError, match="at least one key"):
        KeyRing([])
