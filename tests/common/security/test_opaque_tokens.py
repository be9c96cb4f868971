"""Opaque tokens: random, hashed, and sealed so that only the token opens the seal."""

from __future__ import annotations

import hashlib

from common.security.opaque_tokens import new_token, seal, token_hash, unseal


def test_tokens_are_256_random_bits_and_never_repeat():
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(len(token) == 43 for token in tokens)


def test_the_hash_is_sha256_of_the_token():
    assert token_hash("abc") == hashlib.sha256(b"abc").hexdigest()


def test_sealed_bytes_open_only_with_the_token_that_sealed_them():
    token, other = new_token(), new_token()
    plaintext = b'{"refresh_token": "successor", "token": "eyJ..."}' * 5

    sealed = seal(token, plaintext)

    assert sealed != plaintext
    assert len(sealed) == len(plaintext)
    assert plaintext not in sealed
    assert unseal(token, sealed) == plaintext
    assert unseal(other, sealed) != plaintext


def test_two_tokens_seal_the_same_plaintext_differently():
    plaintext = b"same successor"
    assert seal(new_token(), plaintext) != seal(new_token(), plaintext)
