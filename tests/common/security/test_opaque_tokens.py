"""Opaque tokens: random and hashed (sealing with them: test_sealing.py)."""

from __future__ import annotations

import hashlib

from common.security.opaque_tokens import new_token, token_hash


def test_tokens_are_256_random_bits_and_never_repeat():
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(len(token) == 43 for token in tokens)


def test_the_hash_is_sha256_of_the_token():
    assert token_hash("abc") == hashlib.sha256(b"abc").hexdigest()
