"""Bad input on every second-factor route: 400 in the error shape, or 401 without a bearer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.helpers import PASSWORD, assert_error, bearer

BEARER_BAD_BODIES = [
    ("POST", "/api/auth/mfa/totp", {}),
    ("POST", "/api/auth/mfa/totp", {"password": 12345678}),
    ("POST", "/api/auth/mfa/totp", {"password": PASSWORD, "extra": 1}),
    ("POST", "/api/auth/mfa/totp", {"mfa_token": 7}),
    ("POST", "/api/auth/mfa/totp", {"mfa_token": "x" * 43, "password": PASSWORD}),
    ("POST", "/api/auth/mfa/totp/confirm", {}),
    ("POST", "/api/auth/mfa/totp/confirm", {"code": 123456}),
    ("POST", "/api/auth/mfa/totp/confirm", {"code": "12345a"}),
    ("POST", "/api/auth/mfa/totp/confirm", {"code": "123456", "remember": True}),
    ("POST", "/api/auth/mfa/totp/confirm", {"mfa_token": "x" * 43}),
    ("DELETE", "/api/auth/mfa/totp", {}),
    (
        "DELETE",
        "/api/auth/mfa/totp",
        {"password": PASSWORD, "code": "123456", "recovery_code": "A"},
    ),
    ("DELETE", "/api/auth/mfa/totp", {"password": [], "code": "123456"}),
    ("DELETE", "/api/auth/mfa/totp", {"password": PASSWORD, "code": "123456", "x": None}),
    ("POST", "/api/auth/mfa/recovery-codes", {}),
    ("POST", "/api/auth/mfa/recovery-codes", {"password": PASSWORD, "code": "123456"}),
    ("POST", "/api/auth/mfa/recovery-codes", {"recovery_code": 5}),
    ("POST", "/api/auth/mfa/recovery-codes", {"password": PASSWORD, "user_id": 1, "extra": 2}),
    ("POST", "/api/auth/mfa/verify", {}),
    ("POST", "/api/auth/mfa/verify", {"mfa_token": "x" * 43}),
    ("POST", "/api/auth/mfa/verify", {"mfa_token": "x" * 43, "code": 123456}),
    ("POST", "/api/auth/mfa/verify", {"mfa_token": "x" * 43, "code": "1", "recovery_code": "A"}),
    ("POST", "/api/auth/mfa/verify", {"mfa_token": "x" * 513, "code": "123456"}),
    ("POST", "/api/auth/mfa/verify", {"mfa_token": "x" * 43, "code": "123456", "user_id": 1}),
    ("POST", "/api/auth/mfa/verify", {"mfa_token": "x\u0000", "code": "123456"}),
]


@pytest.mark.parametrize(("method", "path", "body"), BEARER_BAD_BODIES)
async def test_bad_input_is_400_with_the_error_shape(
    client: httpx.AsyncClient, token: str, method: str, path: str, body: dict[str, Any]
):
    answer = await client.request(method, path, json=body, headers=bearer(token))
    assert_error(answer, 400, "validation_error")
    assert answer.json()["error"]["details"], answer.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/auth/mfa/totp"),
        ("POST", "/api/auth/mfa/totp/confirm"),
        ("DELETE", "/api/auth/mfa/totp"),
        ("POST", "/api/auth/mfa/recovery-codes"),
        ("POST", "/api/auth/mfa/verify"),
    ],
)
async def test_a_body_that_is_not_an_object_is_400(
    client: httpx.AsyncClient, token: str, method: str, path: str
):
    for raw in (b"[]", b'"code"', b"{", b""):
        answer = await client.request(
            method, path, content=raw, headers={**bearer(token), "Content-Type": "application/json"}
        )
        assert_error(answer, 400, "bad_request")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/auth/mfa", None),
        ("POST", "/api/auth/mfa/totp", {"password": PASSWORD}),
        ("POST", "/api/auth/mfa/totp/confirm", {"code": "123456"}),
        ("DELETE", "/api/auth/mfa/totp", {"password": PASSWORD, "code": "123456"}),
        ("POST", "/api/auth/mfa/recovery-codes", {"password": PASSWORD}),
    ],
)
async def test_the_caller_routes_need_a_bearer(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
):
    assert_error(await client.request(method, path, json=body), 401, "unauthorized")
