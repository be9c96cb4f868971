"""The gateway's per-IP limiter (GCRA in one script) against a real Redis."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from common.config import Rate
from common.errors import RateLimited
from common.keys import Keys
from gateway_app.rate_limits import LIMITED_ROUTES, RateLimiter

CLIENT = "203.0.113.5"


@pytest.fixture
def limiter(redis: Redis, keys: Keys) -> RateLimiter:
    return RateLimiter(redis, keys)


async def allowed(limiter: RateLimiter, rate: Rate, *, times: int, ip: str = CLIENT) -> int:
    """How many of ``times`` requests in a row get through."""
    passed = 0
    for _ in range(times):
        try:
            await limiter.hit("register", ip, rate)
        except RateLimited:
            continue
        passed += 1
    return passed


async def test_a_burst_of_count_then_429_with_the_wait(limiter: RateLimiter) -> None:
    rate = Rate(3, 60)
    assert await allowed(limiter, rate, times=3) == 3

    with pytest.raises(RateLimited) as raised:
        await limiter.hit("register", CLIENT, rate)
    # One request is due every 20 s.
    assert 19 <= raised.value.details["retry_after"] <= 20


async def test_refused_requests_do_not_push_the_wait_further(limiter: RateLimiter) -> None:
    rate = Rate(1, 60)
    await limiter.hit("register", CLIENT, rate)
    for _ in range(5):
        with pytest.raises(RateLimited) as raised:
            await limiter.hit("register", CLIENT, rate)
    assert raised.value.details["retry_after"] <= 60


async def test_the_budget_refills_over_the_period(limiter: RateLimiter) -> None:
    rate = Rate(4, 0.4)  # one every 100 ms
    assert await allowed(limiter, rate, times=6) == 4
    await asyncio.sleep(0.25)
    assert 1 <= await allowed(limiter, rate, times=4) <= 3


async def test_addresses_and_routes_have_budgets_of_their_own(limiter: RateLimiter) -> None:
    rate = Rate(1, 60)
    await limiter.hit("register", CLIENT, rate)
    await limiter.hit("register", "203.0.113.6", rate)
    await limiter.hit("refresh", CLIENT, rate)


async def test_an_ipv6_slash_64_is_one_client(limiter: RateLimiter) -> None:
    rate = Rate(1, 60)
    await limiter.hit("register", "2001:db8:5:6::1", rate)
    with pytest.raises(RateLimited):
        await limiter.hit("register", "2001:db8:5:6:abcd::9", rate)


async def test_unreachable_redis_lets_requests_through(keys: Keys) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        assert await allowed(RateLimiter(dead, keys), Rate(1, 60), times=3) == 3
    finally:
        await dead.aclose()


def test_the_table_names_the_issue_routes() -> None:
    assert set(LIMITED_ROUTES) == {
        "/api/users/register",
        "/api/auth/refresh",
        "/api/auth/forgot-password",
        "/api/auth/reset-password",
        "/api/auth/verify-email/resend",
        "/api/auth/webauthn/login/options",
        "/api/auth/webauthn/login",
    }
