"""bcrypt hashing on its own thread pool."""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest
from prometheus_client import CollectorRegistry, Histogram

from common.security.passwords import BCRYPT_NICENESS, PasswordHasher


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


async def test_a_password_over_72_bytes_is_wrong_even_when_its_first_72_match(
    hasher: PasswordHasher,
) -> None:
    password = "a1" * 36  # exactly 72 bytes
    hashed = await hasher.hash(password)

    assert await hasher.verify(password, hashed) is True
    assert await hasher.verify(password + "x", hashed) is False
    assert await hasher.verify(password + "x", None) is False


async def test_needs_rehash_when_the_cost_differs(hasher: PasswordHasher) -> None:
    other = PasswordHasher(rounds=5, threads=1)
    try:
        older = await other.hash("abcdefg1")
    finally:
        other.close()

    assert hasher.needs_rehash(older) is True
    assert hasher.needs_rehash(await hasher.hash("abcdefg1")) is False
    assert hasher.needs_rehash("not a bcrypt hash") is False


async def timed(verify: Callable[[], Awaitable[bool]], samples: list[float]) -> None:
    started = time.perf_counter()
    assert await verify() is False
    samples.append(time.perf_counter() - started)


async def test_a_wrong_password_on_a_cheaper_hash_takes_as_long_as_an_unknown_user() -> None:
    """The cost was raised since the hash was made: without a decoy compare at
    the current cost, the wrong password would answer 16x sooner."""
    current = PasswordHasher(rounds=9, threads=1)
    older = PasswordHasher(rounds=5, threads=1)
    try:
        cheap = await older.hash("abcdefg1")
        unknown: list[float] = []
        wrong: list[float] = []
        for _ in range(9):  # interleaved, so load changes hit both alike
            await timed(lambda: current.verify("wrong-guess-1", None), unknown)
            await timed(lambda: current.verify("wrong-guess-1", cheap), wrong)
            await timed(lambda: current.verify("x1" * 40, cheap), wrong)
    finally:
        current.close()
        older.close()

    ratio = statistics.median(wrong) / statistics.median(unknown)
    assert 0.5 <= ratio <= 2, (ratio, unknown, wrong)


async def test_hash_and_verify_time_is_observed_by_operation() -> None:
    registry = CollectorRegistry()
    timing = Histogram("hash_seconds", "test", ["operation"], registry=registry)
    hasher_with_timing = PasswordHasher(rounds=4, threads=1, timing=timing)
    try:
        hashed = await hasher_with_timing.hash("correct horse 1")
        await hasher_with_timing.verify("correct horse 1", hashed)
        await hasher_with_timing.verify("wrong horse 1", None)
    finally:
        hasher_with_timing.close()

    assert registry.get_sample_value("hash_seconds_count", {"operation": "hash"}) == 1
    assert registry.get_sample_value("hash_seconds_count", {"operation": "verify"}) == 2
    assert (registry.get_sample_value("hash_seconds_sum", {"operation": "hash"}) or 0) > 0


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice levels are Linux's")
async def test_bcrypt_threads_run_below_the_loop(hasher: PasswordHasher) -> None:
    await hasher.hash("warm up a thread 1")
    loop_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    bcrypt_threads = [t for t in threading.enumerate() if t.name.startswith("bcrypt")]

    assert bcrypt_threads
    for thread in bcrypt_threads:
        assert thread.native_id is not None
        assert os.getpriority(os.PRIO_PROCESS, thread.native_id) == min(
            19, loop_nice + BCRYPT_NICENESS
        )
    # Only the bcrypt threads: the loop's own priority is untouched.
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == loop_nice
