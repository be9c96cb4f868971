"""Small helpers shared by the end-to-end tests: accounts, tokens, error checks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import json
import re
import time
import uuid
import warnings
from pathlib import Path
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
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
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


def client_at(base_url: str, address: str) -> httpx.AsyncClient:
    """A client the gateway sees at ``address``.

    An address in 127.0.0.0/8 (all loopback on Linux) is the socket's own
    source address; any other is sent as X-Forwarded-For from 127.0.0.1, which
    counts only for a gateway started with TRUSTED_PROXIES=127.0.0.1.
    """
    if ipaddress.ip_address(address) in LOOPBACK:
        transport = httpx.AsyncHTTPTransport(local_address=address)
        return httpx.AsyncClient(base_url=base_url, timeout=15, transport=transport)
    return httpx.AsyncClient(base_url=base_url, timeout=15, headers={"X-Forwarded-For": address})


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


async def password_hash_of(database_url: str, username: str) -> str:
    """The stored bcrypt hash of ``username``."""
    conn = await asyncpg.connect(database_url)
    try:
        hashed: str = await conn.fetchval(
            "SELECT password_hash FROM users WHERE username = $1", username
        )
    finally:
        await conn.close()
    return hashed


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post("/api/auth/refresh", json={"refresh_token": refresh_token})


async def logout(client: httpx.AsyncClient, token: str, scope: str | None = None) -> httpx.Response:
    params = {"scope": scope} if scope is not None else None
    return await client.post("/api/auth/logout", params=params, headers=bearer(token))


async def sessions_of(client: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    answer = await client.get("/api/auth/sessions", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    listed: list[dict[str, Any]] = answer.json()["sessions"]
    return listed


async def audit_types(client: httpx.AsyncClient, token: str) -> list[str]:
    """The caller's audit event types, newest first."""
    answer = await client.get("/api/auth/audit", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return [event["type"] for event in answer.json()["events"]]


def assert_token_answer(response: httpx.Response) -> dict[str, Any]:
    """A login or refresh answer: the seed's fields plus the refresh pair."""
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is True
    assert body["token_type"] == "Bearer"
    assert isinstance(body["token"], str)
    assert body["token"]
    # 256 bits in URL-safe base64.
    assert len(body["refresh_token"]) >= 43
    assert 0 < body["expires_in"] <= 15 * 60
    assert set(body["user"]) == {"id", "username", "email"}
    assert response.headers["cache-control"] == "no-store"
    return body


async def dev_log_reset_token(client: httpx.AsyncClient, log: Path, email: str) -> str:
    """Ask for a reset of ``email`` and read the token from the development log line."""
    answer = await client.post("/api/auth/forgot-password", json={"email": email})
    assert answer.status_code == 202, answer.text
    pattern = re.compile(rf"password reset token for {re.escape(email.lower())}: (\S+)")
    async with asyncio.timeout(10):
        while True:
            found = pattern.search(await asyncio.to_thread(log.read_text, errors="replace"))
            if found:
                return found.group(1)
            await asyncio.sleep(0.05)


async def audit_rows(database_url: str, user_id: int) -> list[asyncpg.Record]:
    """The user's audit rows, oldest first, read from PostgreSQL directly."""
    conn = await asyncpg.connect(database_url)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(
            "SELECT * FROM audit_events WHERE user_id = $1 ORDER BY id", user_id
        )
    finally:
        await conn.close()
    return rows


async def raw_exchange(port: int, raw: bytes) -> bytes:
    """Send bytes no HTTP client would send; everything the server answers before closing."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        answer = b""
        async with asyncio.timeout(10):
            while b"\r\n\r\n" not in answer or not _complete(answer):
                chunk = await reader.read(65536)
                if not chunk:
                    break
                answer += chunk
        return answer
    finally:
        writer.close()


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def split_raw(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body bytes of a raw HTTP answer."""
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def parse_raw(answer: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Status, headers and JSON body of a raw HTTP answer."""
    status, headers, body = split_raw(answer)
    return status, headers, json.loads(body) if body else {}


async def account_flow(client: httpx.AsyncClient, database_url: str, name: str) -> list[str]:
    """Register, log in, read the profile, change the password, then fail a login.

    Returns every secret the flow handled (passwords, the tokens, the password
    and token hashes), for tests that look for them where they must not be.
    """
    password, new_password, wrong = (f"{kind}-{uuid.uuid4().hex}" for kind in "pnw")
    assert (await register(client, name, password)).status_code == 201
    logged_in = await login(client, name, password)
    assert logged_in.status_code == 200, logged_in.text
    token, refresh_token = logged_in.json()["token"], logged_in.json()["refresh_token"]
    assert (await profile(client, token)).status_code == 200
    old_hash = await password_hash_of(database_url, name)
    changed = await change_password(client, token, password, new_password)
    assert changed.status_code == 200, changed.text
    assert (await login(client, name, wrong)).status_code == 401
    return [
        password,
        new_password,
        wrong,
        token,
        token.rsplit(".", 1)[1],
        refresh_token,
        hashlib.sha256(token.encode()).hexdigest(),
        old_hash,
        await password_hash_of(database_url, name),
    ]
