"""Per-IP rate limits at the gateway, by route path, from distinct client addresses."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from gateway_app.rate_limits import LIMITED_ROUTES
from tests.conftest import Servers
from tests.e2e.conftest import running_stack
from tests.e2e.helpers import assert_error, client_at, count_users_named_like, register
from tests.e2e.stack import Stack


@pytest.fixture(scope="module")
def limited(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Tight limits; each test has addresses or routes of its own."""
    with running_stack(
        servers,
        tmp_path_factory,
        "rate",
        RATE_LIMIT_REGISTER="2/1m",
        RATE_LIMIT_REFRESH="1/1m",
        RATE_LIMIT_FORGOT_PASSWORD="1/1m",
        RATE_LIMIT_RESET_PASSWORD="1/1m",
        RATE_LIMIT_VERIFY_EMAIL_RESEND="1/1m",
        RATE_LIMIT_WEBAUTHN_OPTIONS="1/1m",
        RATE_LIMIT_WEBAUTHN_LOGIN="1/1m",
    ) as stack:
        yield stack


async def test_registration_is_limited_per_address(
    limited: Stack, unique: Callable[[str], str], servers: Servers
) -> None:
    stem = unique("burst")
    async with client_at(limited.url, "127.0.0.81") as client:
        assert [(await register(client, f"{stem}_{n}")).status_code for n in range(2)] == [201, 201]
        refused = await register(client, f"{stem}_2")
        # A trailing slash reaches the same handler, so the same limit.
        slashed = await client.post("/api/users/register/", json={})
    body = assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 30
    assert body["error"]["details"] == {"retry_after": int(refused.headers["Retry-After"])}
    assert_error(slashed, 429, "rate_limited")
    assert await count_users_named_like(servers.database_url, stem) == 2

    async with client_at(limited.url, "127.0.0.82") as neighbour:
        assert (await register(neighbour, f"{stem}_3")).status_code == 201


@pytest.mark.parametrize("path", sorted(set(LIMITED_ROUTES) - {"/api/users/register"}))
async def test_each_limited_route_is_limited_by_its_path(limited: Stack, path: str) -> None:
    """Whatever the route answers (it may not exist on every branch yet), the
    second request within the minute is refused before it is looked at."""
    async with client_at(limited.url, "127.0.0.83") as client:
        first = await client.post(path, json={})
        second = await client.post(path, json={})
    assert first.status_code != 429
    assert_error(second, 429, "rate_limited")
    assert 1 <= int(second.headers["Retry-After"]) <= 60
