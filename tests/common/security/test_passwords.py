"""bcrypt hashing on its own thread pool."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from common.security.passwords import PasswordHasher


@pytest.fixture
def hasher() -> Iterator[PasswordHasher]:
    pool = PasswordHasher(rounds=4, threads=2)
    yield pool
    pool.close()


async def test_hash_then_verify(hasher: PasswordHasher) -> None:
    hashed = await hasher.hash("correct horse 1")

    assert hashed.startswith("$2b$04$")
    assert await hasher.verify("correct horse 1", hashed) is True


async def test_wrong_password_does_not_verify(hasher: PasswordHasher) -> None:
    hashed = await hasher.hash("correct horse 1")

    assert await hasher.verify("correct horse 2", hashed) is False
    assert await hasher.verify("", hashed) is False


async def test_verify_against_no_hash_is_false(hasher: PasswordHasher) -> None:
    assert await hasher.verify("decoy-password-1", None) is False
    assert await hasher.verify("anything1", None) is False


async def test_each_hash_has_its_own_salt(hasher: PasswordHasher) -> None:
    first = await hasher.hash("same password 1")
    second = await hasher.hash("same password 1")

    assert first != second
    assert await hasher.verify("same password 1", first)
    assert await hasher.verify("same password 1", second)


async def test_unicode_passwords_roundtrip(hasher: PasswordHasher) -> None:
    password = "pässwörd🔒1"
    hashed = await hasher.hash(password)

    assert await hasher.verify(password, hashed)
    assert not await hasher.verify("passwort🔒1", hashed)


async def test_rounds_are_used(hasher: PasswordHasher) -> None:
    other = PasswordHasher(rounds=5, threads=1)
    try:
        hashed = await other.hash("abcdefg1")
    finally:
        other.close()

    assert hashed.startswith("$2b$05$")
    # A hash carries its own cost, so any hasher verifies it.
    assert await hasher.verify("abcdefg1", hashed)


async def test_verify_of_an_over_long_password_answers_instead_of_raising(
    hasher: PasswordHasher,
) -> None:
    hashed = await hasher.hash("a1" * 36)

    assert await hasher.verify("b2" * 60, hashed) is False
