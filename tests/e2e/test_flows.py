"""The seed's flows over HTTP against real processes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import Servers
from tests.e2e.helpers import (
    PASSWORD,
    SAFE_REQUEST_ID,
    assert_error,
    change_password,
    login,
    new_account,
    profile,
    register,
    session_id,
)
from tests.e2e.stack import Stack


async def test_register_login_profile(client: httpx.AsyncClient, unique: Callable[[str], str]):
    name = unique("ada")
    created = await register(client, name)
    assert created.status_code == 201
    body = created.json()
    assert body["success"] is True
    assert body["message"] == "User registered successfully"
    assert body["user"]["username"] == name
    assert body["user"]["email"] == f"{name}@example.com".lower()
    assert set(body["user"]) == {"id", "username", "email", "created_at"}

    login = await client.post("/api/auth/login", json={"username": name, "password": "secret123"})
    assert login.status_code == 200
    assert login.json()["message"] == "Login successful"
    token = login.json()["token"]

    profile = await client.get("/api/users/profile", headers={"Authorization": f"Bearer {token}"})
    assert profile.status_code == 200
    # The seed's fields, plus the state of the address (issue 12).
    assert profile.json() == {
        "success": True,
        "user": {**body["user"], "email_verified": False, "pending_email": None},
    }


# ----------------------------------------------------------------------------
# Login by username or email, case-insensitively


async def test_login_by_username_or_email_ignores_case(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    name = unique("Grace")
    created = await register(client, name)
    assert created.status_code == 201
    user = created.json()["user"]
    expected = {"id": user["id"], "username": name, "email": f"{name}@example.com".lower()}

    attempts = [
        {"username": name},
        {"username": name.upper()},
        {"username": name.lower()},
        {"username": f"{name}@example.com".upper()},
        {"username": f"  {name}@Example.com  "},
        {"email": f"{name}@EXAMPLE.COM"},
    ]
    for attempt in attempts:
        answer = await client.post("/api/auth/login", json={**attempt, "password": PASSWORD})
        assert answer.status_code == 200, (attempt, answer.text)
        body = answer.json()
        assert body["success"] is True
        assert body["message"] == "Login successful"
        assert body["user"] == expected
        me = await profile(client, body["token"])
        assert me.status_code == 200
        assert me.json()["user"]["id"] == user["id"]


async def test_password_is_case_sensitive(client: httpx.AsyncClient, unique: Callable[[str], str]):
    name = unique("case")
    assert (await register(client, name)).status_code == 201
    assert (await login(client, name, PASSWORD)).status_code == 200
    assert_error(await login(client, name, PASSWORD.upper()), 401, "invalid_credentials")


# ----------------------------------------------------------------------------
# X-Request-ID


@pytest.mark.parametrize(
    "request_id",
    ["req-1", "3f2a9c1e-8b7d-4c2e-9f00-1234567890ab", "trace.id:part_2", "r" * 128],
)
async def test_request_id_is_echoed(client: httpx.AsyncClient, request_id: str):
    ok = await client.get("/health", headers={"X-Request-ID": request_id})
    assert ok.status_code == 200
    assert ok.headers["x-request-id"] == request_id

    failed = await client.get("/api/users/profile", headers={"X-Request-ID": request_id})
    body = assert_error(failed, 401, "unauthorized")
    assert body["request_id"] == request_id


async def test_request_id_is_generated_when_absent(client: httpx.AsyncClient):
    first = await client.get("/health")
    second = await client.get("/health")
    ids = [first.headers.get("x-request-id"), second.headers.get("x-request-id")]
    for request_id in ids:
        assert request_id
        assert SAFE_REQUEST_ID.fullmatch(request_id)
    assert ids[0] != ids[1]

    failed = await client.get("/api/users/profile")
    body = assert_error(failed, 401, "unauthorized")
    assert body["request_id"] not in ids


@pytest.mark.parametrize(
    "unsafe",
    ["has spaces", "r" * 129, "semi;colon", 'quote"d', "slash/ed", "<script>", "ümlaut"],
)
async def test_unsafe_request_id_is_replaced(client: httpx.AsyncClient, unsafe: str):
    headers = {"X-Request-ID": unsafe.encode("utf-8")}
    ok = await client.get("/health", headers=headers)
    assert ok.status_code == 200
    replaced = ok.headers["x-request-id"]
    assert replaced != unsafe
    assert SAFE_REQUEST_ID.fullmatch(replaced)

    failed = await client.get("/api/users/profile", headers=headers)
    body = assert_error(failed, 401, "unauthorized")
    assert body["request_id"] != unsafe
    assert body["request_id"] != replaced


# ----------------------------------------------------------------------------
# Change password


async def test_change_password_ends_every_session(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    name = unique("change")
    new_password = "n3w-Passw0rd"
    _, first = await new_account(client, name)
    second_login = await login(client, name)
    assert second_login.status_code == 200
    second = second_login.json()["token"]
    assert session_id(first) != session_id(second)
    for token in (first, second):
        assert (await profile(client, token)).status_code == 200

    changed = await change_password(client, first, PASSWORD, new_password)
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"success": True, "message": "Password changed successfully"}

    # The token that made the change is refused on its very next use ...
    assert_error(await profile(client, first), 401, "invalid_token")
    # ... and so is every other session of the user.
    assert_error(await profile(client, second), 401, "invalid_token")
    assert_error(
        await change_password(client, second, new_password, "an0ther-pass"), 401, "invalid_token"
    )

    assert_error(await login(client, name, PASSWORD), 401, "invalid_credentials")
    fresh = await login(client, name, new_password)
    assert fresh.status_code == 200
    assert (await profile(client, fresh.json()["token"])).status_code == 200


async def test_change_password_leaves_other_users_sessions_alone(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    _, bystander = await new_account(client, unique("bystander"))
    _, changer = await new_account(client, unique("changer"))
    assert (await change_password(client, changer, PASSWORD, "n3w-Passw0rd")).status_code == 200
    assert (await profile(client, bystander)).status_code == 200


# ----------------------------------------------------------------------------
# Events


async def test_register_publishes_user_created(
    client: httpx.AsyncClient, stack: Stack, servers: Servers, unique: Callable[[str], str]
):
    name = unique("evented")
    request_id = unique("evt-req")
    subscriber = Redis.from_url(servers.redis_url)
    pubsub = subscriber.pubsub()
    try:
        await pubsub.subscribe(f"{stack.prefix}:events")
        confirmed = await pubsub.get_message(timeout=5)
        assert confirmed is not None
        assert confirmed["type"] == "subscribe"

        created = await register(client, name, headers={"X-Request-ID": request_id})
        assert created.status_code == 201
        user = created.json()["user"]

        event = None
        async with asyncio.timeout(10):
            while event is None:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is None:
                    continue
                candidate = json.loads(message["data"])
                if candidate.get("data", {}).get("user", {}).get("username") == name:
                    event = candidate
    finally:
        await pubsub.aclose()
        await subscriber.aclose()

    assert event["type"] == "user.created"
    assert event["data"]["user"] == user
    assert event["request_id"] == request_id
    assert "password" not in json.dumps(event)


async def test_failed_registration_publishes_nothing(
    client: httpx.AsyncClient, stack: Stack, servers: Servers, unique: Callable[[str], str]
):
    name = unique("once")
    subscriber = Redis.from_url(servers.redis_url)
    pubsub = subscriber.pubsub()
    try:
        await pubsub.subscribe(f"{stack.prefix}:events")
        assert (await pubsub.get_message(timeout=5)) is not None
        assert (await register(client, name)).status_code == 201
        duplicate = await register(client, name, email=f"other-{name}@example.com")
        assert_error(duplicate, 409, "conflict")
        # A marker registered last: once its event arrives, any event of the
        # duplicate (published before it) has arrived too.
        marker = unique("marker")
        assert (await register(client, marker)).status_code == 201

        seen: list[str] = []
        async with asyncio.timeout(10):
            while marker not in seen:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is not None:
                    user = json.loads(message["data"])["data"].get("user", {})
                    seen.append(user.get("username"))
    finally:
        await pubsub.aclose()
        await subscriber.aclose()
    assert seen.count(name) == 1


# ----------------------------------------------------------------------------
# /services and /health


async def test_services_lists_every_live_instance(client: httpx.AsyncClient, stack: Stack):
    answer = await client.get("/services")
    assert answer.status_code == 200
    body = answer.json()
    assert body["success"] is True
    listed = body["services"]
    for service in ("gateway", "user", "auth"):
        expected = {p.pid for p in stack.processes if p.service == service and p.running()}
        assert {instance["pid"] for instance in listed[service]} == expected, service
        for instance in listed[service]:
            assert instance["service"] == service
            assert instance["instance"].startswith(f"{service}-")


async def test_health_reports_dependencies_up(client: httpx.AsyncClient):
    answer = await client.get("/health")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "healthy"
    assert body["service"] == "api-gateway"
    assert body["timestamp"]
    dependencies = body["dependencies"]
    assert dependencies["redis"]["status"] == "up"
    for service in ("user", "auth"):
        assert dependencies[service]["status"] == "up"
        assert dependencies[service]["instances"] == 1
