"""Refresh tokens over HTTP: rotation, reuse inside and after the interval, races, expiry."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import Servers
from tests.e2e.helpers import (
    assert_error,
    assert_token_answer,
    audit_rows,
    login,
    logout,
    profile,
    refresh,
    register,
    session_id,
    sessions_of,
)
from tests.e2e.stack import Stack, full_stack


async def signed_in(client: httpx.AsyncClient, name: str) -> dict[str, object]:
    assert (await register(client, name)).status_code == 201
    return assert_token_answer(await login(client, name))


async def test_login_answers_the_seed_fields_and_a_refresh_pair(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    body = await signed_in(client, unique("pair"))
    assert body["message"] == "Login successful"
    assert (await profile(client, str(body["token"]))).status_code == 200


async def test_refresh_rotates_the_pair_within_one_session(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    first = await signed_in(client, unique("rotate"))
    second = assert_token_answer(await refresh(client, str(first["refresh_token"])))
    third = assert_token_answer(await refresh(client, str(second["refresh_token"])))

    assert len({first["refresh_token"], second["refresh_token"], third["refresh_token"]}) == 3
    assert session_id(str(third["token"])) == session_id(str(first["token"]))
    assert third["user"] == first["user"]
    listed = await sessions_of(client, str(third["token"]))
    assert [s["id"] for s in listed] == [session_id(str(first["token"]))]


async def test_a_rotated_token_within_the_interval_gets_the_same_successor(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    first = await signed_in(client, unique("retry"))
    successor = assert_token_answer(await refresh(client, str(first["refresh_token"])))
    again = assert_token_answer(await refresh(client, str(first["refresh_token"])))

    assert again["refresh_token"] == successor["refresh_token"]
    assert again["token"] == successor["token"]
    # The session did not fork: the successor still rotates, and stays one session.
    onward = assert_token_answer(await refresh(client, str(successor["refresh_token"])))
    assert len(await sessions_of(client, str(onward["token"]))) == 1


async def test_five_concurrent_refreshes_share_one_successor(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    first = await signed_in(client, unique("race"))
    answers = await asyncio.gather(
        *(refresh(client, str(first["refresh_token"])) for _ in range(5))
    )

    bodies = [assert_token_answer(answer) for answer in answers]
    assert len({body["refresh_token"] for body in bodies}) == 1
    assert len({body["token"] for body in bodies}) == 1
    listed = await sessions_of(client, str(bodies[0]["token"]))
    assert [s["id"] for s in listed] == [session_id(str(first["token"]))]


async def test_reuse_after_the_interval_ends_the_whole_session(
    stack_factory: Callable[..., Stack], servers: Servers, unique: Callable[[str], str]
):
    short = full_stack(stack_factory(REFRESH_REUSE_INTERVAL="1"))
    async with httpx.AsyncClient(base_url=short.url, timeout=15) as http:
        first = await signed_in(http, unique("theft"))
        successor = assert_token_answer(await refresh(http, str(first["refresh_token"])))
        await asyncio.sleep(1.5)

        stolen = await refresh(http, str(first["refresh_token"]))
        assert_error(stolen, 401, "invalid_token")
        # Every token descended from the session is refused, access and refresh.
        assert_error(await refresh(http, str(successor["refresh_token"])), 401, "invalid_token")
        assert_error(await profile(http, str(successor["token"])), 401, "invalid_token")
        assert_error(await profile(http, str(first["token"])), 401, "invalid_token")
    user: Any = first["user"]
    last = (await audit_rows(servers.database_url, user["id"]))[-1]
    assert (last["type"], json.loads(last["data"])["reason"]) == ("session.ended", "reuse")


async def test_refresh_slides_the_session_and_an_expired_one_is_refused(
    stack_factory: Callable[..., Stack], unique: Callable[[str], str]
):
    # Steps of 2.5 s against a 4 s lifetime: 1.5 s of slack for a slow machine.
    brief = full_stack(stack_factory(REFRESH_EXPIRES_IN="4"))
    async with httpx.AsyncClient(base_url=brief.url, timeout=15) as http:
        first = await signed_in(http, unique("slide"))
        await asyncio.sleep(2.5)
        second = assert_token_answer(await refresh(http, str(first["refresh_token"])))
        await asyncio.sleep(2.5)
        # Five seconds after login, alive only because the refresh extended it.
        third = assert_token_answer(await refresh(http, str(second["refresh_token"])))
        await asyncio.sleep(4.5)
        assert_error(await refresh(http, str(third["refresh_token"])), 401, "invalid_token")


async def test_refreshing_a_logged_out_session_is_401(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    first = await signed_in(client, unique("gone"))
    assert (await logout(client, str(first["token"]))).status_code == 204
    assert_error(await refresh(client, str(first["refresh_token"])), 401, "invalid_token")


async def test_unknown_and_malformed_refresh_tokens(client: httpx.AsyncClient):
    assert_error(await refresh(client, "x" * 43), 401, "invalid_token")
    assert_error(await refresh(client, "x" * 513), 400, "validation_error")
    assert_error(await client.post("/api/auth/refresh", json={}), 400, "validation_error")
    assert_error(
        await client.post("/api/auth/refresh", json={"refresh_token": 7}), 400, "validation_error"
    )
    not_an_object = await client.post(
        "/api/auth/refresh", content=b"[]", headers={"Content-Type": "application/json"}
    )
    assert_error(not_an_object, 400, "bad_request")
