"""Account update and deletion over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import (
    PASSWORD,
    assert_error,
    bearer,
    email_for,
    login,
    new_account,
    profile,
    refresh,
    register,
)


async def update(client: httpx.AsyncClient, token: str, body: Any) -> httpx.Response:
    return await client.patch("/api/users/profile", json=body, headers=bearer(token))


async def delete(client: httpx.AsyncClient, token: str, body: Any) -> httpx.Response:
    return await client.request("DELETE", "/api/users/profile", json=body, headers=bearer(token))


def unverified(user: dict[str, Any]) -> dict[str, Any]:
    """``user`` as the profile shows a new account: address not verified, no change pending."""
    return {**user, "email_verified": False, "pending_email": None}


async def test_update_username_at_once_and_email_only_once_confirmed(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    user, token = await new_account(client, unique("renamed"))
    new_name = unique("newname")

    answer = await update(client, token, {"username": new_name, "email": " NEW@Example.ORG "})

    assert answer.status_code == 200, answer.text
    changed = answer.json()["user"]
    # The address waits for its link (tests/e2e/test_email_verification.py).
    assert changed == {**user, "username": new_name}
    assert answer.json()["pending_email"] == "new@example.org"
    shown = (await profile(client, token)).json()["user"]
    assert shown == {**changed, "email_verified": False, "pending_email": "new@example.org"}
    assert (await login(client, new_name)).status_code == 200
    assert_error(await login(client, "new@example.org"), 401, "invalid_credentials")
    assert_error(await login(client, user["username"]), 401, "invalid_credentials")


async def test_update_one_field_keeps_the_other(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    user, token = await new_account(client, unique("partial"))
    answer = await update(client, token, {"email": email_for(unique("moved"))})
    assert answer.status_code == 200, answer.text
    assert answer.json()["user"]["username"] == user["username"]


@pytest.mark.parametrize("field", ["username", "email"])
async def test_a_taken_name_is_409_case_insensitively(
    client: httpx.AsyncClient, unique: Callable[[str], str], field: str
):
    taken, _ = await new_account(client, unique("owner"))
    user, token = await new_account(client, unique("wants"))

    answer = await update(client, token, {field: taken[field].upper()})

    assert_error(answer, 409, "conflict")
    assert (await profile(client, token)).json()["user"] == unverified(user)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "a"},
        {"username": "bad name!"},
        {"email": "nope"},
        {"email": None},
        {"username": 42},
        [],
        "text",
    ],
)
async def test_bad_updates_are_400_and_change_nothing(
    client: httpx.AsyncClient, unique: Callable[[str], str], body: Any
):
    user, token = await new_account(client, unique("badupdate"))
    answer = await update(client, token, body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] in {"validation_error", "bad_request"}
    assert (await profile(client, token)).json()["user"] == unverified(user)


async def test_account_routes_need_a_live_token(client: httpx.AsyncClient):
    assert_error(
        await client.patch("/api/users/profile", json={"username": "abc"}), 401, "unauthorized"
    )
    assert_error(
        await client.request("DELETE", "/api/users/profile", json={"password": PASSWORD}),
        401,
        "unauthorized",
    )


async def test_delete_needs_the_password(client: httpx.AsyncClient, unique: Callable[[str], str]):
    name = unique("keeper")
    _, token = await new_account(client, name)
    assert_error(
        await delete(client, token, {"password": "wrong-password1"}), 401, "invalid_credentials"
    )
    assert_error(await delete(client, token, {}), 400, "validation_error")
    assert_error(await delete(client, token, {"password": ""}), 400, "validation_error")
    assert (await profile(client, token)).status_code == 200
    assert (await login(client, name)).status_code == 200


async def test_deleting_ends_every_session_and_the_account(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    name = unique("leaver")
    _, token = await new_account(client, name)
    other = (await login(client, name)).json()

    answer = await delete(client, token, {"password": PASSWORD})

    assert answer.status_code == 204, answer.text
    for access in (token, other["token"]):
        assert_error(await profile(client, access), 401, "invalid_token")
    assert_error(await refresh(client, other["refresh_token"]), 401, "invalid_token")
    assert_error(await login(client, name), 401, "invalid_credentials")
    # The name is free again, and the new account is a different one.
    assert (await register(client, name)).status_code == 201
