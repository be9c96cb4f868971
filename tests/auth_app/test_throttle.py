"""Login throttling against a real Redis."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from auth_app.throttle import LoginThrottle
from common.errors import RateLimited
from common.keys import Keys


@pytest.fixture
def throttle(redis: Redis, keys: Keys) -> LoginThrottle:
    return LoginThrottle(redis, keys, max_failures=3, window=60)


async def test_throttles_after_max_failures_with_retry_after(throttle: LoginThrottle) -> None:
    for _ in range(2):
        await throttle.failed("Ada")
    await throttle.check("ada")  # two failures: still allowed
    await throttle.failed("ADA")
    with pytest.raises(RateLimited) as raised:
        await throttle.check("ada")
    assert 1 <= raised.value.details["retry_after"] <= 60


async def test_success_clears_failures(throttle: LoginThrottle) -> None:
    for _ in range(3):
        await throttle.failed("grace")
    await throttle.succeeded("grace")
    await throttle.check("grace")


async def test_accounts_are_counted_apart(throttle: LoginThrottle) -> None:
    for _ in range(3):
        await throttle.failed("alan")
    await throttle.check("barbara")


async def test_window_is_not_extended_by_later_failures(
    throttle: LoginThrottle, redis: Redis, keys: Keys
) -> None:
    await throttle.failed("edsger")
    key = throttle._key("edsger")
    await redis.pexpire(key, 5_000)
    await throttle.failed("edsger")
    assert await redis.pttl(key) <= 5_000


async def test_key_does_not_contain_the_account_name(throttle: LoginThrottle, redis: Redis) -> None:
    await throttle.failed("ada@example.com")
    assert not [key async for key in redis.scan_iter(match="*example.com*")]


async def test_unreachable_redis_lets_logins_through(keys: Keys) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    throttle = LoginThrottle(dead, keys, max_failures=1, window=60)
    await throttle.failed("ada")
    await throttle.check("ada")
    await dead.aclose()
