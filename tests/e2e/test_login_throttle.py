"""429 with Retry-After once an account has too many failed logins."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.e2e.stack import Stack, full_stack


async def test_failed_logins_lead_to_429_then_even_the_right_password_waits(
    stack_factory: Callable[..., Stack], unique: Callable[[str], str]
) -> None:
    stack = full_stack(stack_factory(LOGIN_MAX_FAILURES="2", LOGIN_FAILURE_WINDOW="30s"))
    name = unique("guessed")
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as client:
        created = await client.post(
            "/api/users/register",
            json={"username": name, "email": f"{name}@example.com", "password": "secret123"},
        )
        assert created.status_code == 201
        wrong = {"username": name, "password": "guess1234"}
        assert [(await client.post("/api/auth/login", json=wrong)).status_code for _ in "ab"] == [
            401,
            401,
        ]
        throttled = await client.post(
            "/api/auth/login", json={"username": name, "password": "secret123"}
        )
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 30
