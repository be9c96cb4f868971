"""Bad input on every passkey route: the error shape and status, never a 500, nothing written."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import assert_error, bearer, new_account
from tests.e2e.passkeys import BASE, fetch, login_options, register_options
from tests.e2e.soft_authenticator import SoftAuthenticator, b64url
from tests.e2e.stack import Stack

GARBAGE = b64url(os.urandom(48))


def tampered(credential: dict[str, Any], **response: str) -> dict[str, Any]:
    return {**credential, "response": {**credential["response"], **response}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "ceremony"),
        ({"ceremony": "x"}, "credential"),
        ({"ceremony": "x", "credential": {}}, "credential"),
        ({"ceremony": "x", "credential": "text"}, "credential"),
        ({"ceremony": "", "credential": None}, "ceremony"),
        (
            {
                "ceremony": "x",
                "credential": {
                    "id": "!!",
                    "rawId": "a",
                    "type": "public-key",
                    "response": {"clientDataJSON": "a", "attestationObject": "a"},
                },
            },
            "credential",
        ),
        (
            {
                "ceremony": "x",
                "credential": {
                    "id": "a",
                    "rawId": "a",
                    "type": "password",
                    "response": {"clientDataJSON": "a", "attestationObject": "a"},
                },
            },
            "credential",
        ),
        ({"ceremony": "x", "unknown": 1}, "unknown"),
        ({"ceremony": "x\u0000"}, "ceremony"),
    ],
)
async def test_register_refuses_malformed_bodies(
    client: httpx.AsyncClient, token: str, body: dict[str, Any], field: str
) -> None:
    answer = await client.post(f"{BASE}/register", json=body, headers=bearer(token))
    assert field in assert_error(answer, 400, "validation_error")["error"]["details"]


async def test_register_refuses_a_long_name_and_garbage_attestations_writing_nothing(
    client: httpx.AsyncClient, stack: Stack, unique: Callable[[str], str]
) -> None:
    user, token = await new_account(client, unique("pkin"))
    device = SoftAuthenticator()
    options = await register_options(client, token)
    good = device.create(options["publicKey"])
    long_name = {"ceremony": options["ceremony"], "credential": good, "name": "n" * 65}
    answer = await client.post(f"{BASE}/register", json=long_name, headers=bearer(token))
    assert "name" in assert_error(answer, 400, "validation_error")["error"]["details"]
    for credential in (
        tampered(good, attestationObject=GARBAGE),
        tampered(good, clientDataJSON=GARBAGE),
        tampered(good, clientDataJSON=b64url(b'{"type": 1, "challenge": [], "origin": {}}')),
        {**good, "id": GARBAGE},
    ):
        options = await register_options(client, token)
        body = {"ceremony": options["ceremony"], "credential": credential}
        answer = await client.post(f"{BASE}/register", json=body, headers=bearer(token))
        assert_error(answer, 400, "invalid_passkey")
    answer = await client.post(
        f"{BASE}/register", json={"ceremony": "no-such", "credential": good}, headers=bearer(token)
    )
    assert_error(answer, 400, "invalid_passkey")
    assert (
        await fetch(stack, "SELECT id FROM webauthn_credentials WHERE user_id = $1", user["id"])
        == []
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"x": 1}, "x"),
        ({"username": 5}, "username"),
        ({"username": ""}, "username"),
        ({"username": "a" * 101}, "username"),
        ({"username": "ada", "mfa_token": "t"}, "mfa_token"),
        ({"mfa_token": ["t"]}, "mfa_token"),
    ],
)
async def test_login_options_refuse_malformed_bodies(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    answer = await client.post(f"{BASE}/login/options", json=body)
    assert field in assert_error(answer, 400, "validation_error")["error"]["details"]


async def test_login_options_need_a_json_object_and_a_live_mfa_token(
    client: httpx.AsyncClient,
) -> None:
    assert_error(await client.post(f"{BASE}/login/options"), 400, "bad_request")
    assert_error(await client.post(f"{BASE}/login/options", json=[]), 400, "bad_request")
    answer = await client.post(f"{BASE}/login/options", json={"mfa_token": "not-a-token"})
    assert_error(answer, 401, "invalid_token")


async def test_login_refuses_malformed_and_garbage_assertions(
    client: httpx.AsyncClient, stack: Stack, unique: Callable[[str], str]
) -> None:
    user, token = await new_account(client, unique("pkin"))
    device = SoftAuthenticator()
    options = await register_options(client, token)
    credential = device.create(options["publicKey"])
    body = {"ceremony": options["ceremony"], "credential": credential}
    assert (
        await client.post(f"{BASE}/register", json=body, headers=bearer(token))
    ).status_code == 201

    for bad in (
        {},
        {"ceremony": "x"},
        {"ceremony": "x", "credential": {"id": "a"}},
        {"ceremony": "x", "credential": []},
    ):
        assert_error(await client.post(f"{BASE}/login", json=bad), 400, "validation_error")
    options = await login_options(client)
    good = device.get(options["publicKey"])
    assert_error(
        await client.post(
            f"{BASE}/login",
            json={"ceremony": options["ceremony"], "credential": {**good, "extra": 1}},
        ),
        400,
        "validation_error",
    )
    for assertion in (
        tampered(good, signature=GARBAGE),
        tampered(good, authenticatorData=GARBAGE),
        tampered(good, clientDataJSON=GARBAGE),
        tampered(good, userHandle=GARBAGE),
        {**good, "rawId": "A"},
    ):
        options = await login_options(client)
        answer = await client.post(
            f"{BASE}/login", json={"ceremony": options["ceremony"], "credential": assertion}
        )
        assert_error(answer, 401, "invalid_credentials")
    sessions = await fetch(stack, "SELECT id FROM user_sessions WHERE user_id = $1", user["id"])
    assert len(sessions) == 1, "only the password login of new_account"


@pytest.mark.parametrize("target", ["abc", "0", "-1", "99999999999999999999999", "1.5"])
async def test_delete_of_no_passkey_is_not_found(
    client: httpx.AsyncClient, token: str, target: str
) -> None:
    answer = await client.delete(f"{BASE}/credentials/{target}", headers=bearer(token))
    assert_error(answer, 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/register/options"),
        ("POST", "/register"),
        ("GET", "/credentials"),
        ("DELETE", "/credentials/1"),
    ],
)
async def test_owner_routes_need_a_bearer(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    answer = await client.request(method, f"{BASE}{path}", json={} if method == "POST" else None)
    assert_error(answer, 401, "unauthorized")


async def test_errors_inside_lists_are_named_by_index(
    client: httpx.AsyncClient, token: str
) -> None:
    credential = {
        "id": "a",
        "rawId": "a",
        "type": "public-key",
        "response": {"clientDataJSON": "a", "attestationObject": "a", "transports": ["usb", 5]},
    }
    answer = await client.post(
        f"{BASE}/register", json={"ceremony": "x", "credential": credential}, headers=bearer(token)
    )
    details = assert_error(answer, 400, "validation_error")["error"]["details"]
    assert details == {"credential": {"response": {"transports": {"1": ["Not a valid string."]}}}}
