"""Logout scopes, the live sessions list, and ending one session, over HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import (
    PASSWORD,
    assert_error,
    bearer,
    logout,
    new_account,
    profile,
    register,
    session_id,
    sessions_of,
)
from tests.e2e.stack import Stack, full_stack

NEVER_A_SESSION = 2**31 - 7

SignIn = Callable[..., Awaitable[str]]


@pytest.fixture
def sign_in(client: httpx.AsyncClient) -> SignIn:
    """Log in once more as ``name``: a new session's access token."""

    async def make(name: str, *, user_agent: str = "pytest", **headers: str) -> str:
        answer = await client.post(
            "/api/auth/login",
            json={"username": name, "password": PASSWORD},
            headers={"User-Agent": user_agent, **headers},
        )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["token"]
        return token

    return make


async def statuses(client: httpx.AsyncClient, *tokens: str) -> list[int]:
    return [(await profile(client, token)).status_code for token in tokens]


async def three_sessions(
    client: httpx.AsyncClient, sign_in: SignIn, name: str
) -> tuple[str, str, str]:
    assert (await register(client, name)).status_code == 201
    return await sign_in(name), await sign_in(name), await sign_in(name)


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (None, [401, 200, 200]),
        ("local", [401, 200, 200]),
        ("others", [200, 401, 401]),
        ("global", [401, 401, 401]),
    ],
)
async def test_logout_scopes(
    client: httpx.AsyncClient,
    sign_in: SignIn,
    unique: Callable[[str], str],
    scope: str | None,
    expected: list[int],
):
    first, second, third = await three_sessions(client, sign_in, unique("scope"))
    answer = await logout(client, first, scope)
    assert answer.status_code == 204, answer.text
    assert answer.content == b""
    assert await statuses(client, first, second, third) == expected


@pytest.mark.parametrize("query", ["scope=everything", "scope=", "scope=local&scope=global"])
async def test_a_bad_scope_is_400_and_ends_nothing(
    client: httpx.AsyncClient, sign_in: SignIn, unique: Callable[[str], str], query: str
):
    first, second, _ = await three_sessions(client, sign_in, unique("badscope"))
    answer = await client.post(f"/api/auth/logout?{query}", headers=bearer(first))
    assert_error(answer, 400, "validation_error")
    assert await statuses(client, first, second) == [200, 200]


async def test_logout_needs_a_live_token(client: httpx.AsyncClient, unique: Callable[[str], str]):
    assert_error(await client.post("/api/auth/logout"), 401, "unauthorized")
    _, token = await new_account(client, unique("twice"))
    assert (await logout(client, token)).status_code == 204
    assert_error(await logout(client, token), 401, "invalid_token")


async def test_sessions_lists_the_callers_live_sessions(
    client: httpx.AsyncClient, sign_in: SignIn, unique: Callable[[str], str]
):
    name = unique("lister")
    assert (await register(client, name)).status_code == 201
    laptop = await sign_in(name, user_agent="Laptop/1.0")
    phone = await sign_in(name, user_agent="Phone/2.0")
    ended = await sign_in(name, user_agent="Old/0.1")
    assert (await logout(client, ended)).status_code == 204
    _, stranger = await new_account(client, unique("stranger"))

    listed = await sessions_of(client, phone)

    assert [s["id"] for s in listed] == [session_id(phone), session_id(laptop)]
    by_agent = {s["user_agent"]: s for s in listed}
    assert set(by_agent) == {"Laptop/1.0", "Phone/2.0"}
    assert by_agent["Phone/2.0"]["current"] is True
    assert by_agent["Laptop/1.0"]["current"] is False
    for entry in listed:
        assert set(entry) == {"id", "created_at", "last_used_at", "user_agent", "ip", "current"}
        assert entry["ip"] == "127.0.0.1"
        assert entry["last_used_at"] >= entry["created_at"]
    assert session_id(stranger) not in [s["id"] for s in listed]


async def test_ending_one_of_my_sessions(
    client: httpx.AsyncClient, sign_in: SignIn, unique: Callable[[str], str]
):
    mine, other, _ = await three_sessions(client, sign_in, unique("ender"))
    target = session_id(other)

    answer = await client.delete(f"/api/auth/sessions/{target}", headers=bearer(mine))
    assert answer.status_code == 204, answer.text
    assert await statuses(client, mine, other) == [200, 401]
    assert target not in [s["id"] for s in await sessions_of(client, mine)]
    # Ending it again changes nothing and says so the same way.
    again = await client.delete(f"/api/auth/sessions/{target}", headers=bearer(mine))
    assert again.status_code == 204


async def test_another_users_session_is_404_and_stays_live(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    _, mine = await new_account(client, unique("prober"))
    _, theirs = await new_account(client, unique("victim"))

    answer = await client.delete(f"/api/auth/sessions/{session_id(theirs)}", headers=bearer(mine))

    body = assert_error(answer, 404, "not_found")
    assert await statuses(client, theirs) == [200]
    unknown = await client.delete(f"/api/auth/sessions/{NEVER_A_SESSION}", headers=bearer(mine))
    assert assert_error(unknown, 404, "not_found")["error"] == body["error"]


# Past 64 bits an id could not even cross the wire as JSON (found by the OpenAPI fuzzing).
@pytest.mark.parametrize(
    "target", ["abc", "1.5", "99999999999999", "-3", "0", "9" * 23, "-" + "9" * 23]
)
async def test_a_session_id_that_cannot_be_one_is_404(
    client: httpx.AsyncClient, unique: Callable[[str], str], target: str
):
    _, token = await new_account(client, unique("oddid"))
    answer = await client.delete(f"/api/auth/sessions/{target}", headers=bearer(token))
    assert_error(answer, 404, "not_found")
    assert await statuses(client, token) == [200]


async def test_sessions_routes_need_a_token(client: httpx.AsyncClient):
    assert_error(await client.get("/api/auth/sessions"), 401, "unauthorized")
    assert_error(await client.delete("/api/auth/sessions/1"), 401, "unauthorized")


async def test_the_listed_ip_is_the_forwarded_one_only_behind_a_trusted_proxy(
    client: httpx.AsyncClient,
    sign_in: SignIn,
    stack_factory: Callable[..., Stack],
    unique: Callable[[str], str],
):
    name = unique("proxied")
    assert (await register(client, name)).status_code == 201
    direct = await sign_in(name, **{"X-Forwarded-For": "203.0.113.9"})
    assert [s["ip"] for s in await sessions_of(client, direct)] == ["127.0.0.1"]

    proxied = full_stack(stack_factory(TRUSTED_PROXIES="127.0.0.1"))
    async with httpx.AsyncClient(base_url=proxied.url, timeout=15) as http:
        answer = await http.post(
            "/api/auth/login",
            json={"username": name, "password": PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
        token = answer.json()["token"]
        listed: list[dict[str, Any]] = await sessions_of(http, token)
    assert {s["id"]: s["ip"] for s in listed}[session_id(token)] == "203.0.113.9"
