"""Small helpers shared by the end-to-end tests: accounts, tokens, error checks."""

from __future__ import annotations

import base64
import re
import time
import uuid
import warnings
from typing import Any

import asyncpg
import httpx
import jwt
from jwt.warnings import InsecureKeyLengthWarning

from tests.conftest import TEST_JWT_SECRET
from tests.key_material import secret_kid

PASSWORD = "secret123"
# What the gateway may send back as X-Request-ID (common/context.py accepts no more).
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
ERROR_KEYS = {"success", "error", "request_id"}
# The key id the gateway gives the test secret (RFC 7638 thumbprint of its JWK).
TEST_KID = secret_kid(TEST_JWT_SECRET)


def email_for(username: str) -> str:
    return f"{username}@Example.com"


async def register(
    client: httpx.AsyncClient,
    username: str,
    password: str = PASSWORD,
    *,
    email: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        "/api/users/register",
        json={"username": username, "email": email or email_for(username), "password": password},
        headers=headers,
    )


async def login(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/auth/login", json={"username": name, "password": password})


async def new_account(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> tuple[dict[str, Any], str]:
    """Register ``username`` and log in: (public user, token)."""
    created = await register(client, username, password)
    assert created.status_code == 201, created.text
    logged_in = await login(client, username, password)
    assert logged_in.status_code == 200, logged_in.text
    return created.json()["user"], logged_in.json()["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def profile(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/api/users/profile", headers=bearer(token))


async def change_password(
    client: httpx.AsyncClient, token: str, current: str, new: str
) -> httpx.Response:
    return await client.put(
        "/api/auth/change-password",
        json={"currentPassword": current, "newPassword": new},
        headers=bearer(token),
    )


def assert_no_traceback(response: httpx.Response) -> None:
    assert "Traceback" not in response.text, response.text


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The DESIGN error shape, with X-Request-ID equal to the body's request_id."""
    assert response.status_code == status, response.text
    assert_no_traceback(response)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["success"] is False
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str), error
    assert error["message"], error
    assert isinstance(error["details"], dict), error
    assert isinstance(body["request_id"], str), body
    assert SAFE_REQUEST_ID.fullmatch(body["request_id"]), body
    assert response.headers["x-request-id"] == body["request_id"]
    return body


def claims_of(token: str) -> dict[str, Any]:
    """The token's claims, read without checking anything (tests only)."""
    return jwt.decode(token, options={"verify_signature": False})


def session_id(token: str) -> int:
    return int(claims_of(token)["sid"])


def make_token(
    *,
    user_id: int | str | None,
    session: int | str | None,
    secret: Any = TEST_JWT_SECRET,
    algorithm: str = "HS256",
    lifetime: int = 3600,
    kid: str | None = TEST_KID,
    **extra: Any,
) -> str:
    """A token like the gateway's, with any claim (or the kid) changed or dropped (None drops it).

    ``secret`` is the HMAC secret, or a private key object for EdDSA / RS256.
    """
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": None if user_id is None else str(user_id),
        "sid": None if session is None else str(session),
        "iat": now,
        "exp": now + lifetime,
        "iss": "gatehouse",
        "aud": "gatehouse",
        "jti": uuid.uuid4().hex,
        **extra,
    }
    with warnings.catch_warnings():
        # HS512 with the (52-byte) test secret is refused by the gateway anyway.
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(
            {k: v for k, v in claims.items() if v is not None},
            secret,
            algorithm=algorithm,
            headers=None if kid is None else {"kid": kid},
        )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def count_users_named_like(database_url: str, stem: str) -> int:
    """Rows in users whose username is ``{stem}_<anything>``."""
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM users WHERE username LIKE $1", f"{stem}\\_%"
        )
    finally:
        await conn.close()
    return count
