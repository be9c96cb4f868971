"""Login throttling against a real Redis: scopes, growing delays, windows, races."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from auth_app.throttle import LoginThrottle, account_subject
from common.config import FailureLimit, LoginThrottleSettings
from common.errors import RateLimited
from common.keys import Keys

ATTACKER = "203.0.113.7"
OWNER = "198.51.100.20"


@pytest.fixture
def make_throttle(redis: Redis, keys: Keys) -> Callable[..., LoginThrottle]:
    """A throttle with small limits: account 6, IP 8, pair 3 free failures; delays 1 s doubling."""

    def make(
        *,
        window: float = 600,
        account: tuple[int, float] = (6, 4),
        ip: tuple[int, float] = (8, 300),
        pair: tuple[int, float] = (3, 300),
        client: Redis | None = None,
    ) -> LoginThrottle:
        settings = LoginThrottleSettings(
            window=window,
            first_delay=1,
            account=FailureLimit(*account),
            ip=FailureLimit(*ip),
            pair=FailureLimit(*pair),
        )
        return LoginThrottle(client or redis, keys, settings)

    return make


@pytest.fixture
def throttle(make_throttle: Callable[..., LoginThrottle]) -> LoginThrottle:
    return make_throttle()


async def fail(throttle: LoginThrottle, account: str, ip: str | None, times: int = 1) -> None:
    """Attempts that are admitted and then fail."""
    for _ in range(times):
        attempt = await throttle.begin(account, ip)
        await attempt.failed()


async def wait_for(throttle: LoginThrottle, account: str, ip: str | None) -> int:
    """The Retry-After of the next attempt; fails the test if it is allowed."""
    with pytest.raises(RateLimited) as raised:
        await throttle.begin(account, ip)
    retry_after: int = raised.value.details["retry_after"]
    return retry_after


async def seed_failures(redis: Redis, key: str, ages: list[float]) -> None:
    """Failures that happened ``ages`` seconds ago (by this machine's clock, which is Redis's)."""
    now_ms = time.time() * 1000
    await redis.zadd(key, {f"seed-{i}": now_ms - age * 1000 for i, age in enumerate(ages)})


def test_an_account_is_its_user_whatever_name_was_typed() -> None:
    assert account_subject(7, "ada") == account_subject(7, "ada@example.com") == "user:7"
    # Unknown names: by their normalised text, and never in clear.
    assert account_subject(None, " Ghost ") == account_subject(None, "ghost")
    assert account_subject(None, "ghost") != account_subject(None, "ghost2")
    assert "example" not in account_subject(None, "nobody@example.com")


async def test_pair_limit_then_retry_after(throttle: LoginThrottle) -> None:
    await fail(throttle, "user:1", ATTACKER, times=3)

    assert await wait_for(throttle, "user:1", ATTACKER) == 1
    # Neither the same address on another account nor the owner elsewhere waits.
    await throttle.begin("user:2", ATTACKER)
    await throttle.begin("user:1", OWNER)


async def test_delays_double_per_failure_up_to_the_ceiling(
    throttle: LoginThrottle, redis: Redis
) -> None:
    pair = throttle.scopes("user:1", ATTACKER)[2].failures_key
    expected = {3: 1, 4: 2, 5: 4, 6: 8, 9: 64, 12: 300, 20: 300}
    for failures, delay in expected.items():
        await redis.delete(pair)
        await seed_failures(redis, pair, [0.05] * failures)
        assert await wait_for(throttle, "user:1", ATTACKER) == delay, failures


async def test_account_limit_holds_across_addresses_with_a_short_ceiling(
    throttle: LoginThrottle,
) -> None:
    for n in range(6):
        await fail(throttle, "user:1", f"192.0.2.{n}")

    # The sixth address of a spray and the owner's clean one wait alike, briefly.
    assert await wait_for(throttle, "user:1", "192.0.2.99") == 1
    assert await wait_for(throttle, "user:1", OWNER) == 1


async def test_account_ceiling_is_what_the_owner_waits_at_most(
    throttle: LoginThrottle, redis: Redis
) -> None:
    account = throttle.scopes("user:1", None)[0].failures_key
    await seed_failures(redis, account, [0.05] * 40)

    assert await wait_for(throttle, "user:1", OWNER) == 4


async def test_ip_limit_spans_accounts(throttle: LoginThrottle) -> None:
    for n in range(8):
        await fail(throttle, f"name:{n}", ATTACKER)

    assert await wait_for(throttle, "name:fresh", ATTACKER) == 1
    await throttle.begin("name:fresh", OWNER)


async def test_ipv6_addresses_of_one_slash_64_share_a_budget(throttle: LoginThrottle) -> None:
    for n in range(8):
        await fail(throttle, f"name:{n}", f"2001:db8:1:2::{n + 1:x}")

    assert await wait_for(throttle, "name:fresh", "2001:db8:1:2:ffff::1") == 1
    await throttle.begin("name:fresh", "2001:db8:1:3::1")


async def test_success_clears_the_pair_only(throttle: LoginThrottle, redis: Redis) -> None:
    await fail(throttle, "user:1", ATTACKER, times=2)
    attempt = await throttle.begin("user:1", ATTACKER)
    await attempt.succeeded()

    account, ip, pair = (scope.failures_key for scope in throttle.scopes("user:1", ATTACKER))
    assert not await redis.exists(pair)
    # The two failures stay with the account and the address: logging in to
    # one's own account must not wipe an address's record of spraying others.
    assert await redis.zcard(account) == 2
    assert await redis.zcard(ip) == 2
    await fail(throttle, "user:1", ATTACKER, times=3)
    assert await wait_for(throttle, "user:1", ATTACKER) == 1


async def test_failures_leave_the_window(
    make_throttle: Callable[..., LoginThrottle], redis: Redis
) -> None:
    throttle = make_throttle(window=60)
    pair = throttle.scopes("user:1", ATTACKER)[2].failures_key
    await seed_failures(redis, pair, [90, 80, 70, 0.5])

    await throttle.begin("user:1", ATTACKER)  # only one failure is still in the window


async def test_wait_ends_when_enough_failures_leave_the_window(
    make_throttle: Callable[..., LoginThrottle], redis: Redis
) -> None:
    throttle = make_throttle(window=60)
    pair = throttle.scopes("user:1", ATTACKER)[2].failures_key
    # Ten failures (a 128 s delay), but below the limit of 3 once the 8th
    # oldest has left the window, in 2.5 s.
    await seed_failures(redis, pair, [59.5, 59, 58.8, 58.6, 58.4, 58.2, 58, 57.5, 1, 0.05])

    assert 2 <= await wait_for(throttle, "user:1", ATTACKER) <= 4


async def guess(throttle: LoginThrottle, right: bool) -> None:
    """One login through the throttle; bcrypt's time stood in for by a short sleep."""
    attempt = await throttle.begin("user:1", ATTACKER)
    await asyncio.sleep(0.02)
    await (attempt.succeeded() if right else attempt.failed())


async def test_concurrent_guesses_cannot_slip_past_the_limit(throttle: LoginThrottle) -> None:
    results = await asyncio.gather(
        *(guess(throttle, right=False) for _ in range(20)), return_exceptions=True
    )

    assert results.count(None) == 3, results
    assert sum(isinstance(r, RateLimited) for r in results) == 17


async def test_concurrent_right_passwords_all_get_in(throttle: LoginThrottle) -> None:
    """Beyond the limit they wait for the attempts in flight instead of being refused."""
    results = await asyncio.gather(*(guess(throttle, right=True) for _ in range(20)))

    assert results == [None] * 20


async def test_attempts_in_flight_hold_back_others_only_for_a_while(
    throttle: LoginThrottle,
) -> None:
    await fail(throttle, "user:1", ATTACKER, times=2)
    await throttle.begin("user:1", ATTACKER)  # never finishes, as if its worker died

    with pytest.raises(RateLimited) as raised:
        await throttle.begin("user:1", ATTACKER, patience=0.2)
    assert raised.value.details["retry_after"] == 1


async def test_without_an_address_only_the_account_counts(throttle: LoginThrottle) -> None:
    await fail(throttle, "user:1", None, times=6)

    assert await wait_for(throttle, "user:1", None) == 1
    assert len(throttle.scopes("user:1", None)) == 1


async def test_key_does_not_contain_the_account_name(throttle: LoginThrottle, redis: Redis) -> None:
    await fail(throttle, account_subject(None, "ada@example.com"), ATTACKER)

    assert not [key async for key in redis.scan_iter(match="*example.com*")]


async def test_unreachable_redis_lets_logins_through(
    make_throttle: Callable[..., LoginThrottle],
) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    throttle = make_throttle(pair=(1, 300), client=dead)
    try:
        await fail(throttle, "user:1", ATTACKER, times=3)
        attempt = await throttle.begin("user:1", ATTACKER)
        await attempt.succeeded()
    finally:
        await dead.aclose()
