"""Every error status over HTTP, each in the DESIGN error shape.

Each response goes through ``assert_error``: status, ``{"success": false,
"error": {"code", "message", "details"}, "request_id"}``, X-Request-ID equal to
the body's request_id, and no traceback anywhere in the body.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from common import json_codec
from tests.conftest import Servers
from tests.e2e.helpers import (
    PASSWORD,
    assert_error,
    bearer,
    change_password,
    login,
    make_token,
    new_account,
    profile,
    register,
)
from tests.e2e.stack import Stack

MAX_BODY = 64 * 1024


def registration(name: str, **changes: Any) -> dict[str, Any]:
    """A valid registration body for ``name``; a change to ``...`` drops the field."""
    body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


# ----------------------------------------------------------------------------
# 400: validation, one rule at a time, details keyed by the offending field

VALIDATION_CASES = [
    pytest.param({"username": "ab"}, "username", id="username-too-short"),
    pytest.param({"username": "a" * 51}, "username", id="username-too-long"),
    pytest.param({"username": "bad-name"}, "username", id="username-dash"),
    pytest.param({"username": "bad name"}, "username", id="username-space"),
    pytest.param({"username": "bädname"}, "username", id="username-non-ascii"),
    pytest.param({"username": "bad@name"}, "username", id="username-at"),
    pytest.param({"username": 12345}, "username", id="username-not-a-string"),
    # "$" would match before the newline; the rule must hold for the whole value
    # (and 51 characters must not reach the VARCHAR(50) column as a 500).
    pytest.param({"username": "trailing_newline\n"}, "username", id="username-trailing-newline"),
    pytest.param({"username": "n" * 50 + "\n"}, "username", id="username-50-chars-and-newline"),
    pytest.param({"username": None}, "username", id="username-null"),
    pytest.param({"email": "not-an-email"}, "email", id="email-no-at"),
    pytest.param({"email": "a@"}, "email", id="email-no-domain"),
    pytest.param({"email": "a b@example.com"}, "email", id="email-space"),
    # 101 characters, each part within what an address allows.
    pytest.param({"email": "x" * 56 + "@" + "d" * 40 + ".com"}, "email", id="email-101-chars"),
    pytest.param({"password": "abc1234"}, "password", id="password-7-chars"),
    pytest.param({"password": "abcdefghij"}, "password", id="password-no-digit"),
    pytest.param({"password": "1234567890"}, "password", id="password-no-letter"),
    # 38 characters but 74 bytes in UTF-8: the limit is bcrypt's, in bytes.
    pytest.param({"password": "a1" + "é" * 36}, "password", id="password-over-72-bytes"),
    pytest.param({"password": "a1" + "x" * 71}, "password", id="password-73-ascii"),
    pytest.param({"password": 12345678}, "password", id="password-not-a-string"),
    pytest.param({"username": ...}, "username", id="missing-username"),
    pytest.param({"email": ...}, "email", id="missing-email"),
    pytest.param({"password": ...}, "password", id="missing-password"),
]


@pytest.mark.parametrize(("changes", "field"), VALIDATION_CASES)
async def test_register_validation(
    client: httpx.AsyncClient,
    unique: Callable[[str], str],
    changes: dict[str, Any],
    field: str,
):
    answer = await client.post("/api/users/register", json=registration(unique("valid"), **changes))
    body = assert_error(answer, 400, "validation_error")
    details = body["error"]["details"]
    assert set(details) == {field}, details
    assert details[field]
    assert all(isinstance(message, str) and message for message in details[field])


async def test_register_with_no_fields_names_each(client: httpx.AsyncClient):
    body = assert_error(await client.post("/api/users/register", json={}), 400, "validation_error")
    assert set(body["error"]["details"]) == {"username", "email", "password"}


async def test_register_reports_every_bad_field_at_once(client: httpx.AsyncClient):
    answer = await client.post(
        "/api/users/register", json={"username": "x", "email": "nope", "password": "short"}
    )
    body = assert_error(answer, 400, "validation_error")
    assert set(body["error"]["details"]) == {"username", "email", "password"}
    # "short" breaks two password rules; both are reported.
    assert len(body["error"]["details"]["password"]) == 2


async def test_validation_limits_are_inclusive(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    """The other side of each limit: usernames of 3 and 50 characters, passwords of
    8 characters and of 72 bytes, an email of 100 characters."""
    shortest = uuid.uuid4().hex[:3]
    longest = unique("long").ljust(50, "x")
    exact = "a1" + "é" * 35  # 72 bytes
    email = unique("mail").ljust(55, "x") + "@" + "d" * 40 + ".com"
    assert len(email) == 100
    cases = [(shortest, "abcdefg1", None), (longest, exact, email)]
    for username, password, address in cases:
        created = await register(client, username, password, email=address)
        assert created.status_code == 201, created.text
        assert (await login(client, username, password)).status_code == 200
    assert (await login(client, email.upper(), exact)).status_code == 200


async def test_login_with_no_fields_names_each(client: httpx.AsyncClient):
    body = assert_error(await client.post("/api/auth/login", json={}), 400, "validation_error")
    assert set(body["error"]["details"]) == {"username", "password"}


async def test_login_validation(client: httpx.AsyncClient):
    body = assert_error(
        await client.post("/api/auth/login", json={"username": "someone"}),
        400,
        "validation_error",
    )
    assert set(body["error"]["details"]) == {"password"}
    body = assert_error(
        await client.post("/api/auth/login", json={"password": PASSWORD}),
        400,
        "validation_error",
    )
    assert set(body["error"]["details"]) == {"username"}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        pytest.param({}, {"currentPassword", "newPassword"}, id="no-fields"),
        pytest.param({"currentPassword": PASSWORD}, {"newPassword"}, id="missing-new"),
        pytest.param({"newPassword": "n3w-Passw0rd"}, {"currentPassword"}, id="missing-current"),
        pytest.param(
            {"currentPassword": PASSWORD, "newPassword": "short1"}, {"newPassword"}, id="new-short"
        ),
        pytest.param(
            {"currentPassword": PASSWORD, "newPassword": "nodigitshere"},
            {"newPassword"},
            id="new-no-digit",
        ),
        pytest.param(
            {"currentPassword": PASSWORD, "newPassword": "a1" + "é" * 36},
            {"newPassword"},
            id="new-over-72-bytes",
        ),
        pytest.param(
            {"currentPassword": PASSWORD, "newPassword": PASSWORD},
            {"newPassword"},
            id="new-same-as-current",
        ),
    ],
)
async def test_change_password_validation(
    client: httpx.AsyncClient, token: str, body: dict[str, str], fields: set[str]
):
    answer = await client.put("/api/auth/change-password", json=body, headers=bearer(token))
    error = assert_error(answer, 400, "validation_error")
    assert set(error["error"]["details"]) == fields
    # A refused change leaves the session and the password as they were.
    assert (await profile(client, token)).status_code == 200


# ----------------------------------------------------------------------------
# 400: bodies that are not a JSON object

BAD_BODIES = [
    pytest.param(b"", id="empty"),
    pytest.param(b"{not json", id="malformed"),
    pytest.param(b'{"username": "ada",}', id="trailing-comma"),
    pytest.param(b"[1, 2, 3]", id="array"),
    pytest.param(b'"text"', id="string"),
    pytest.param(b"42", id="number"),
    pytest.param(b"null", id="null"),
    pytest.param(b'{"username": "\xff\xfe"}', id="invalid-utf8"),
    pytest.param(b"[" * 5000 + b"]" * 5000, id="too-deep"),
]


@pytest.mark.parametrize("path", ["/api/users/register", "/api/auth/login"])
@pytest.mark.parametrize("content", BAD_BODIES)
async def test_body_must_be_a_json_object(client: httpx.AsyncClient, path: str, content: bytes):
    answer = await client.post(path, content=content, headers={"Content-Type": "application/json"})
    assert_error(answer, 400, "bad_request")


@pytest.mark.parametrize("content", BAD_BODIES)
async def test_change_password_body_must_be_a_json_object(
    client: httpx.AsyncClient, token: str, content: bytes
):
    answer = await client.put(
        "/api/auth/change-password",
        content=content,
        headers={**bearer(token), "Content-Type": "application/json"},
    )
    assert_error(answer, 400, "bad_request")


# ----------------------------------------------------------------------------
# 401


async def test_wrong_password_and_unknown_user_look_the_same(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    name = unique("known")
    assert (await register(client, name)).status_code == 201
    wrong = assert_error(await login(client, name, "wrong-pass1"), 401, "invalid_credentials")
    unknown = assert_error(
        await login(client, unique("nobody"), PASSWORD), 401, "invalid_credentials"
    )
    unknown_email = assert_error(
        await login(client, f"{unique('nobody')}@example.com", PASSWORD),
        401,
        "invalid_credentials",
    )
    assert wrong["error"]["message"] == unknown["error"]["message"]
    assert wrong["error"]["message"] == unknown_email["error"]["message"]
    assert wrong["error"]["details"] == unknown["error"]["details"] == {}


AUTHORIZATION_HEADERS = [
    pytest.param({}, id="absent"),
    pytest.param({"Authorization": ""}, id="empty"),
    pytest.param({"Authorization": "Bearer"}, id="bearer-without-token"),
    pytest.param({"Authorization": "Basic dXNlcjpzZWNyZXQxMjM="}, id="basic"),
    pytest.param({"Authorization": "Token abc.def.ghi"}, id="token-scheme"),
]


@pytest.mark.parametrize("headers", AUTHORIZATION_HEADERS)
async def test_protected_routes_need_a_bearer_token(
    client: httpx.AsyncClient, token: str, headers: dict[str, str]
):
    assert_error(await client.get("/api/users/profile", headers=headers), 401, "unauthorized")
    assert_error(
        await client.put(
            "/api/auth/change-password",
            json={"currentPassword": PASSWORD, "newPassword": "n3w-Passw0rd"},
            headers=headers,
        ),
        401,
        "unauthorized",
    )
    # The account is untouched by those attempts.
    assert (await profile(client, token)).status_code == 200


async def test_basic_scheme_with_a_valid_token_is_refused(client: httpx.AsyncClient, token: str):
    answer = await client.get("/api/users/profile", headers={"Authorization": f"Basic {token}"})
    assert_error(answer, 401, "unauthorized")


async def test_wrong_current_password_changes_nothing(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    name = unique("wrongcur")
    _, issued = await new_account(client, name)
    answer = await change_password(client, issued, "not-my-pass1", "n3w-Passw0rd")
    assert_error(answer, 401, "invalid_credentials")
    assert (await profile(client, issued)).status_code == 200
    assert (await login(client, name, PASSWORD)).status_code == 200
    assert_error(await login(client, name, "n3w-Passw0rd"), 401, "invalid_credentials")


# ----------------------------------------------------------------------------
# 404, 405


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/accounts"),  # "/" is the account page
        ("GET", "/api"),
        ("GET", "/api/users"),
        ("POST", "/api/users/registerx"),
        ("GET", "/api/users/profile/1"),
        ("DELETE", "/api/nothing/here"),
        ("GET", "/api/users/../../etc/passwd"),
    ],
)
async def test_unknown_route(client: httpx.AsyncClient, method: str, path: str):
    assert_error(await client.request(method, path), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/api/users/register", "POST"),
        ("PUT", "/api/users/register", "POST"),
        ("DELETE", "/api/auth/login", "POST"),
        ("POST", "/api/users/profile", "GET"),
        ("POST", "/api/auth/change-password", "PUT"),
        ("POST", "/health", "GET"),
        ("DELETE", "/services", "GET"),
    ],
)
async def test_wrong_method(client: httpx.AsyncClient, method: str, path: str, allowed: str):
    answer = await client.request(method, path)
    assert_error(answer, 405, "method_not_allowed")
    assert allowed in answer.headers.get("allow", ""), answer.headers


# ----------------------------------------------------------------------------
# 409


async def test_duplicate_username_differing_only_in_case(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    name = unique("Dup")
    assert (await register(client, name)).status_code == 201
    for variant in (name, name.lower(), name.upper()):
        answer = await register(client, variant, email=f"{uuid.uuid4().hex}@example.com")
        assert_error(answer, 409, "conflict")


async def test_duplicate_email_differing_only_in_case(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    name = unique("mail")
    assert (await register(client, name, email=f"{name}@example.com")).status_code == 201
    for email in (f"{name}@example.com", f"{name.upper()}@EXAMPLE.COM", f" {name}@Example.com "):
        answer = await register(client, unique("other"), email=email)
        assert_error(answer, 409, "conflict")


# ----------------------------------------------------------------------------
# 413


async def test_body_over_limit(client: httpx.AsyncClient, unique: Callable[[str], str]):
    body = registration(unique("big"), padding="x" * MAX_BODY)
    answer = await client.post(
        "/api/users/register", json=body, headers={"X-Request-ID": "too-big-1"}
    )
    error = assert_error(answer, 413, "payload_too_large")
    assert error["request_id"] == "too-big-1"


async def test_chunked_body_over_limit(client: httpx.AsyncClient):
    """A body without Content-Length is cut off at the limit too.

    The gateway answers 413 and closes while the rest of the body is unread,
    so TCP may reset the connection before the client reads the answer (about
    one time in ten here): every answer that does arrive must be the 413, and
    some must arrive.
    """

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"padding": "'
        for _ in range(20):
            yield b"x" * 8192
        yield b'"}'

    answers = []
    for _ in range(5):
        try:
            answers.append(
                await client.post(
                    "/api/users/register",
                    content=chunks(),
                    headers={"Content-Type": "application/json"},
                )
            )
        except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
            continue
    assert answers, "the connection was reset every time; no 413 ever arrived"
    for answer in answers:
        assert_error(answer, 413, "payload_too_large")


async def test_body_under_limit_is_read(client: httpx.AsyncClient, unique: Callable[[str], str]):
    """A big but allowed body registers (JSON whitespace makes it big: an unknown
    field would be refused)."""
    body = json_codec.dumps(registration(unique("roomy"))) + b" " * (MAX_BODY - 1024)
    answer = await client.post(
        "/api/users/register", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 201, answer.text


# ----------------------------------------------------------------------------
# 400: a field the API document does not name


async def test_an_undocumented_field_is_refused_by_name_and_nothing_is_written(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    name = unique("closed")
    answer = await client.post(
        "/api/users/register", json=registration(name, nickname="Ada", isAdmin=True)
    )
    body = assert_error(answer, 400, "validation_error")
    assert body["error"]["details"] == {
        "nickname": ["Unknown field."],
        "isAdmin": ["Unknown field."],
    }
    # Refused before any call: the account was not made, so the same name is free.
    assert (await register(client, name)).status_code == 201


async def test_what_the_gateway_adds_from_the_token_is_no_field_for_the_client(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    name = unique("owner")
    _, token = await new_account(client, name)
    answer = await client.put(
        "/api/auth/change-password",
        json={"currentPassword": PASSWORD, "newPassword": "another-pass-2", "user_id": 1},
        headers=bearer(token),
    )
    body = assert_error(answer, 400, "validation_error")
    assert body["error"]["details"] == {"user_id": ["Unknown field."]}
    # Nothing changed: the session lives and the old password still logs in.
    assert (await profile(client, token)).status_code == 200
    assert (await login(client, name, PASSWORD)).status_code == 200


# ----------------------------------------------------------------------------
# 503: no live worker of a service


def assert_no_responders(answer: httpx.Response) -> None:
    assert_error(answer, 503, "no_responders")
    assert answer.headers.get("retry-after") == "1"


async def test_no_workers_at_all(stack_factory: Callable[..., Stack]):
    lonely = stack_factory()
    lonely.start("gateway")
    some_token = make_token(user_id=1, session=1)
    async with httpx.AsyncClient(base_url=lonely.url, timeout=15) as http:
        assert_no_responders(await register(http, "nobody_home"))
        assert_no_responders(await login(http, "nobody_home"))
        # A valid token whose session Redis does not know must be asked of auth.
        assert_no_responders(await profile(http, some_token))

        health = await http.get("/health")
        assert health.status_code == 503
        dependencies = health.json()["dependencies"]
        assert dependencies["redis"]["status"] == "up"
        assert dependencies["user"]["status"] == "down"
        assert dependencies["auth"]["status"] == "down"
        # Errors the gateway decides alone still work.
        assert_error(await http.get("/api/users/profile"), 401, "unauthorized")
        assert_error(await http.get("/nowhere"), 404, "not_found")


async def test_no_user_worker(stack_factory: Callable[..., Stack]):
    partial = stack_factory()
    partial.start("auth")
    partial.start("gateway")
    partial.wait_for_instances("auth", 1)
    async with httpx.AsyncClient(base_url=partial.url, timeout=15) as http:
        assert_no_responders(await register(http, "nobody_home"))
        # The auth service is there and answers for itself.
        assert_error(await login(http, "nobody_home"), 401, "invalid_credentials")
        health = await http.get("/health")
        assert health.status_code == 503
        dependencies = health.json()["dependencies"]
        assert dependencies["user"]["status"] == "down"
        assert dependencies["auth"]["status"] == "up"


# ----------------------------------------------------------------------------
# 504: a worker that is alive but does not answer in time


async def test_frozen_worker_times_out(stack_factory: Callable[..., Stack], servers: Servers):
    # Heartbeats every 2 s stay valid for 6 s, longer than this test needs the
    # frozen worker to look alive.
    slow = stack_factory(RPC_TIMEOUT="0.5", HEARTBEAT_INTERVAL="2")
    user = slow.start("user")
    slow.start("gateway")
    slow.wait_for_instances("user", 1)
    name = f"frozen_{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=slow.url, timeout=15) as http:
        os.kill(user.pid, signal.SIGSTOP)
        try:
            answer = await http.post(
                "/api/users/register",
                json=registration(name),
                headers={"X-Request-ID": "frozen-1"},
            )
        finally:
            os.kill(user.pid, signal.SIGCONT)
        body = assert_error(answer, 504, "deadline_exceeded")
        assert body["request_id"] == "frozen-1"
        assert "retry-after" not in answer.headers

        # Thawed, the worker finds the request past its deadline and drops it
        # instead of registering a user whose caller was told 504 (its log says
        # so: the counters are on no public port).
        async with asyncio.timeout(10):
            while True:
                if "dropped user.register" in user.log.read_text(errors="replace"):
                    break
                await asyncio.sleep(0.05)
    conn = await asyncpg.connect(servers.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM users WHERE username = $1", name) == 0
    finally:
        await conn.close()
