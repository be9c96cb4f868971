"""The gateway's edge over HTTP: hostile requests fail alone, at once, with a 4xx.

Numbers in the test names refer to the defects of issue 7.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import (
    PASSWORD,
    assert_error,
    bearer,
    login,
    parse_raw,
    profile,
    raw_exchange,
    register,
)
from tests.e2e.stack import Stack

MAX_JSON_DEPTH = 32


def nested(levels: int) -> Any:
    """A JSON value ``levels`` objects deep: nested(1) == {}."""
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def registration(name: str, **extra: Any) -> dict[str, Any]:
    return {"username": name, "email": f"{name}@example.com", "password": PASSWORD, **extra}


def log_of(process_log: Any) -> str:
    return str(process_log.read_text(errors="replace"))


# ----------------------------------------------------------------------------
# 1: one deep body fails alone, at once, before any RPC


async def test_1_a_body_nested_too_deep_fails_alone_and_at_once(
    client: httpx.AsyncClient, token: str, unique: Callable[[str], str]
) -> None:
    deep = registration(unique("deep"), profile=nested(260))

    started = time.monotonic()
    answers = await asyncio.gather(
        client.post("/api/users/register", json=deep),
        *(profile(client, token) for _ in range(10)),
    )

    body = assert_error(answers[0], 400, "bad_request")
    assert "nested deeper than 32" in body["error"]["message"]
    assert [a.status_code for a in answers[1:]] == [200] * 10
    assert time.monotonic() - started < 4  # not the 5 s RPC deadline


async def test_1_the_depth_limit_is_inclusive(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    # The body itself is level 1, so its field may be MAX_JSON_DEPTH - 1 deep.
    at_limit = registration(unique("deep"), extra=nested(MAX_JSON_DEPTH - 1))
    past_limit = registration(unique("deep"), extra=nested(MAX_JSON_DEPTH))

    # At the limit the depth check lets it through: the next check, the
    # documented fields, is the one that answers.
    passed = assert_error(
        await client.post("/api/users/register", json=at_limit), 400, "validation_error"
    )
    assert passed["error"]["details"] == {"extra": ["Unknown field."]}
    assert_error(await client.post("/api/users/register", json=past_limit), 400, "bad_request")


async def test_1_arrays_count_as_levels(client: httpx.AsyncClient) -> None:
    body = {"username": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
    assert_error(await client.post("/api/auth/login", json=body), 400, "bad_request")


# ----------------------------------------------------------------------------
# 2: control characters are a 400, never a 500


@pytest.mark.parametrize("character", ["\x00", "\x07", "\x1b", "\x7f"])
async def test_2_control_characters_in_login_fields_are_400(
    client: httpx.AsyncClient, character: str
) -> None:
    for body in (
        {"username": f"ada{character}", "password": PASSWORD},
        {"email": f"ada{character}@example.com", "password": PASSWORD},
        {"username": "ada", "password": f"secret{character}123"},
    ):
        answer = await client.post("/api/auth/login", json=body)
        assert_error(answer, 400, "validation_error")


@pytest.mark.parametrize("field", ["username", "email", "password"])
async def test_2_a_nul_in_any_register_field_is_400(
    client: httpx.AsyncClient, unique: Callable[[str], str], field: str
) -> None:
    body = registration(unique("nul"))
    body[field] = body[field][:3] + "\x00" + body[field][3:]

    answer = await client.post("/api/users/register", json=body)

    details = assert_error(answer, 400, "validation_error")["error"]["details"]
    assert details == {field: ["Must not contain control characters."]}


async def test_2_a_nul_in_a_new_password_is_400(client: httpx.AsyncClient, token: str) -> None:
    answer = await client.put(
        "/api/auth/change-password",
        json={"currentPassword": PASSWORD, "newPassword": "new\x00pass123"},
        headers=bearer(token),
    )
    assert_error(answer, 400, "validation_error")


# ----------------------------------------------------------------------------
# 3: only JSON bodies


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        pytest.param("text/plain", b'{"username": "ada", "password": "x"}', id="text-plain"),
        pytest.param("application/x-www-form-urlencoded", b"username=ada", id="form"),
        pytest.param(
            "multipart/form-data; boundary=xyz",
            b'--xyz\r\nContent-Disposition: form-data; name="username"\r\n\r\nada\r\n--xyz--\r\n',
            id="multipart",
        ),
        pytest.param(None, b'{"username": "ada", "password": "x"}', id="no-content-type"),
        pytest.param("application/jsonx", b"{}", id="json-lookalike"),
    ],
)
@pytest.mark.parametrize("path", ["/api/users/register", "/api/auth/login"])
async def test_3_a_body_that_is_not_json_is_415(
    client: httpx.AsyncClient, path: str, content_type: str | None, content: bytes
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    # httpx adds no Content-Type for raw content.
    answer = await client.post(path, content=content, headers=headers)

    assert_error(answer, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/vnd.api+json",
    ],
)
async def test_3_json_media_types_are_read(
    client: httpx.AsyncClient, unique: Callable[[str], str], content_type: str
) -> None:
    name = unique("media")
    answer = await client.post(
        "/api/users/register",
        content=httpx.Request("POST", "/", json=registration(name)).content,
        headers={"Content-Type": content_type},
    )
    assert answer.status_code == 201, answer.text


async def test_3_a_request_without_a_body_needs_no_content_type(
    client: httpx.AsyncClient, token: str
) -> None:
    assert (await profile(client, token)).status_code == 200


# ----------------------------------------------------------------------------
# 4: ambiguous credentials


async def test_4_two_authorization_headers_are_400(client: httpx.AsyncClient, token: str) -> None:
    headers = [("Authorization", f"Bearer {token}"), ("Authorization", "Bearer forged")]
    answer = await client.get("/api/users/profile", headers=headers)

    assert_error(answer, 400, "bad_request")


async def test_4_two_content_types_are_400(client: httpx.AsyncClient) -> None:
    headers = [("Content-Type", "application/json"), ("Content-Type", "text/plain")]
    answer = await client.post("/api/auth/login", content=b"{}", headers=headers)

    assert_error(answer, 400, "bad_request")


# ----------------------------------------------------------------------------
# 5: headers too large


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Authorization": "Bearer " + "a" * 100_000}, id="100KB-token"),
        pytest.param({"X-Big": "b" * 64 * 1024}, id="64KB-header"),
        pytest.param({f"X-H{n}": "v" for n in range(1000)}, id="1000-headers"),
        pytest.param({f"X-H{n}": "v" for n in range(150)}, id="150-small-headers"),
    ],
)
async def test_5_headers_too_large_are_431(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    answer = await client.get("/api/users/profile", headers=headers)

    assert_error(answer, 431, "request_header_fields_too_large")
    assert answer.headers["x-content-type-options"] == "nosniff"


# ----------------------------------------------------------------------------
# 6: control bytes in the URL


@pytest.mark.parametrize("path", [b"/health\x01", b"/api/users/profile?q=\x00\x1b[2J", b"/\x7f"])
async def test_6_control_bytes_in_the_url_are_400_and_one_warning(
    stack: Stack, path: bytes
) -> None:
    before = len(log_of(stack.gateway.log))
    raw = b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nX-Request-ID: ctl-url\r\n\r\n"

    status, headers, body = parse_raw(await raw_exchange(stack.gateway.port, raw))

    assert status == 400
    assert body["error"]["code"] == "bad_request"
    assert body["request_id"] == headers["x-request-id"] == "ctl-url"
    assert headers["x-content-type-options"] == "nosniff"
    await asyncio.sleep(0.2)  # the log line is written after the answer
    written = log_of(stack.gateway.log)[before:]
    assert "Traceback" not in written
    warnings = [line for line in written.splitlines() if "control bytes" in line]
    assert len(warnings) == 1, written
    assert "\\x" in warnings[0]
    assert not any(0 < ord(c) < 32 and c != "\t" for c in written.replace("\n", ""))


# ----------------------------------------------------------------------------
# 7 and 8: health routes


@pytest.mark.parametrize("path", ["/health", "/health/live", "/services"])
async def test_7_head_works_on_the_gateways_read_routes(client: httpx.AsyncClient, path: str):
    get = await client.get(path)
    head = await client.head(path)

    assert head.status_code == get.status_code
    assert head.content == b""


@pytest.mark.parametrize("service", ["user", "auth"])
async def test_7_head_and_errors_on_worker_health_ports(stack: Stack, service: str) -> None:
    worker = next(p for p in stack.processes if p.service == service)
    async with httpx.AsyncClient(base_url=worker.url, timeout=5) as http:
        head = await http.head("/health")
        missing = await http.get("/nope", headers={"X-Request-ID": "probe-1"})
        wrong = await http.post("/health")

    assert head.status_code == 200
    assert head.content == b""
    assert assert_error(missing, 404, "not_found")["request_id"] == "probe-1"
    assert_error(wrong, 405, "method_not_allowed")


async def test_8_health_publishes_no_counters(stack: Stack, client: httpx.AsyncClient) -> None:
    await login(client, "nobody_at_all", "wrong-password-1")  # something to count
    bodies = [(await client.get("/health")).json()]
    async with httpx.AsyncClient(timeout=5) as http:
        for worker in stack.processes:
            if worker.service != "gateway":
                bodies.append((await http.get(f"{worker.url}/health")).json())

    for body in bodies:
        assert set(body) <= {
            "status",
            "timestamp",
            "service",
            "instance",
            "dependencies",
            "inflight",
        }
        assert "rpc" not in body


# ----------------------------------------------------------------------------
# 17: a client that hangs up is not a server error


async def test_17_a_client_that_hangs_up_is_logged_499_not_500(
    stack_factory: Callable[..., Stack], unique: Callable[[str], str]
) -> None:
    stack = stack_factory(RPC_TIMEOUT="10", HEARTBEAT_INTERVAL="2")
    user = stack.start("user")
    gateway = stack.start("gateway")
    stack.wait_for_instances("user", 1)
    body = httpx.Request("POST", "/", json=registration(unique("gone"))).content
    raw = (
        b"POST /api/users/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    os.kill(user.pid, signal.SIGSTOP)  # the call waits for a reply that will not come yet
    try:
        for _ in range(3):
            _, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
            writer.write(raw)
            await writer.drain()
            await asyncio.sleep(0.3)
            writer.close()
        async with asyncio.timeout(10):
            while True:
                if log_of(gateway.log).count("499 client closed") >= 3:
                    break
                await asyncio.sleep(0.05)
    finally:
        os.kill(user.pid, signal.SIGCONT)
    written = log_of(gateway.log)
    assert " 500 " not in written, written
    assert "Traceback" not in written, written


# ----------------------------------------------------------------------------
# Safe defaults for browsers

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


async def every_kind_of_answer(client: httpx.AsyncClient, token: str) -> list[httpx.Response]:
    return [
        await client.get("/health"),
        await client.head("/health/live"),
        await client.get("/nowhere"),
        await client.delete("/health"),
        await client.post("/api/auth/login", json={}),
        await client.post("/api/auth/login", content=b"x", headers={"Content-Type": "text/plain"}),
        await profile(client, token),
        await client.get("/api/users/profile"),
    ]


async def test_every_answer_carries_the_security_headers(
    client: httpx.AsyncClient, token: str
) -> None:
    for answer in await every_kind_of_answer(client, token):
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers.get(name) == value, (answer.request.url, name, answer.headers)
        assert "strict-transport-security" not in answer.headers
        assert "access-control-allow-origin" not in answer.headers


async def test_api_answers_are_not_stored(
    client: httpx.AsyncClient, token: str, unique: Callable[[str], str]
) -> None:
    answers = await every_kind_of_answer(client, token)
    # The answers that carry a token or user data above all.
    name = unique("nostore")
    answers += [await register(client, name), await login(client, name)]

    for answer in answers:
        stored = answer.headers.get("cache-control") == "no-store"
        assert stored is answer.request.url.path.startswith("/api/"), answer.request.url


ORIGIN = "https://app.example.com"


@pytest.fixture
def browser_gateway(stack_factory: Callable[..., Stack]) -> Stack:
    stack = stack_factory(CORS_ORIGINS=f"{ORIGIN}, http://localhost:5173", HSTS_SECONDS="31536000")
    stack.start("gateway")
    return stack


async def test_hsts_when_configured(browser_gateway: Stack) -> None:
    async with httpx.AsyncClient(base_url=browser_gateway.url, timeout=5) as http:
        for answer in (await http.get("/health"), await http.get("/nowhere")):
            assert answer.headers["strict-transport-security"] == "max-age=31536000"


async def test_a_preflight_from_a_listed_origin_is_204(browser_gateway: Stack) -> None:
    async with httpx.AsyncClient(base_url=browser_gateway.url, timeout=5) as http:
        answer = await http.options(
            "/api/users/profile",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )

    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "x-request-id"} <= allowed
    methods = {m.strip() for m in answer.headers["access-control-allow-methods"].split(",")}
    assert {"GET", "POST", "PUT"} <= methods
    assert int(answer.headers["access-control-max-age"]) > 0
    assert "Origin" in answer.headers["vary"]


async def test_answers_to_a_listed_origin_carry_cors_headers(browser_gateway: Stack) -> None:
    async with httpx.AsyncClient(base_url=browser_gateway.url, timeout=5) as http:
        answers = [
            await http.get("/health", headers={"Origin": "http://localhost:5173"}),
            await http.get("/api/users/profile", headers={"Origin": "http://localhost:5173"}),
        ]

    for answer in answers:
        assert answer.headers["access-control-allow-origin"] == "http://localhost:5173"
        assert "Origin" in answer.headers["vary"]
        exposed = {
            h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")
        }
        assert {"x-request-id", "retry-after"} <= exposed
        assert "access-control-allow-credentials" not in answer.headers


@pytest.mark.parametrize("origin", ["https://evil.example", "https://app.example.com.evil", "null"])
async def test_other_origins_get_no_cors_headers(browser_gateway: Stack, origin: str) -> None:
    async with httpx.AsyncClient(base_url=browser_gateway.url, timeout=5) as http:
        preflight = await http.options(
            "/api/users/profile",
            headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
        )
        actual = await http.get("/health", headers={"Origin": origin})

    assert_error(preflight, 405, "method_not_allowed")
    for answer in (preflight, actual):
        assert not [name for name in answer.headers if name.startswith("access-control-")]
        assert "Origin" in answer.headers["vary"]
