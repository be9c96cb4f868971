"""The audit trail: a row per event in the same transaction, published after the commit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import Servers
from tests.e2e.helpers import (
    PASSWORD,
    assert_error,
    audit_rows,
    audit_types,
    bearer,
    change_password,
    dev_log_reset_token,
    email_for,
    login,
    logout,
    new_account,
    session_id,
)
from tests.e2e.stack import Stack, full_stack


class Events:
    """Events published on a stack's channel, collected in the background."""

    def __init__(self, pubsub: Any) -> None:
        self._pubsub = pubsub
        self.received: list[dict[str, Any]] = []

    async def until(self, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """Everything received up to and including the first event matching ``predicate``."""
        async with asyncio.timeout(15):
            while not any(predicate(event) for event in self.received):
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                if message is not None:
                    self.received.append(json.loads(message["data"]))
        return self.received


@pytest.fixture
async def events(stack: Stack, servers: Servers) -> AsyncIterator[Events]:
    subscriber = Redis.from_url(servers.redis_url)
    pubsub = subscriber.pubsub()
    await pubsub.subscribe(f"{stack.prefix}:events")
    assert (await pubsub.get_message(timeout=5)) is not None
    try:
        yield Events(pubsub)
    finally:
        await pubsub.aclose()
        await subscriber.aclose()


def described(event_type: str, data: dict[str, Any] | str) -> str:
    """``type`` or ``type:reason``; ``data`` as the event carries it or as JSON text."""
    reason = (json.loads(data) if isinstance(data, str) else data).get("reason")
    return f"{event_type}:{reason}" if reason else event_type


async def test_every_account_event_is_recorded_and_published(
    client: httpx.AsyncClient,
    stack: Stack,
    servers: Servers,
    events: Events,
    unique: Callable[[str], str],
):
    name = unique("audited")
    user, token = await new_account(client, name)  # user.created, session.created
    uid = user["id"]
    assert_error(await login(client, name, "wrong-password1"), 401, "invalid_credentials")
    renamed = unique("audited2")
    answer = await client.patch(
        "/api/users/profile", json={"username": renamed}, headers=bearer(token)
    )
    assert answer.status_code == 200
    assert (await change_password(client, token, PASSWORD, "second123")).status_code == 200
    token = (await login(client, renamed, "second123")).json()["token"]
    assert (await logout(client, token)).status_code == 204
    token = (await login(client, renamed, "second123")).json()["token"]
    spare = (await login(client, renamed, "second123")).json()["token"]
    gone = await client.delete(f"/api/auth/sessions/{session_id(spare)}", headers=bearer(token))
    assert gone.status_code == 204

    trail = (await client.get("/api/auth/audit", headers=bearer(token))).json()["events"]
    assert trail[0]["type"] == "session.ended"
    assert trail[0]["data"] == {"session_id": session_id(spare), "reason": "revoked"}
    assert trail[-1]["type"] == "user.created"
    for event in trail:
        assert event["ip"] == "127.0.0.1"
        assert event["user_agent"].startswith("python-httpx")
        assert event["request_id"]

    auth = next(p for p in stack.processes if p.service == "auth")
    reset_token = await dev_log_reset_token(client, auth.log, email_for(name))
    reset = await client.post(
        "/api/auth/reset-password", json={"token": reset_token, "newPassword": "third1234"}
    )
    assert reset.status_code == 200
    token = (await login(client, renamed, "third1234")).json()["token"]
    deleted = await client.request(
        "DELETE", "/api/users/profile", json={"password": "third1234"}, headers=bearer(token)
    )
    assert deleted.status_code == 204

    expected = [
        "user.created",
        "session.created",
        "login.failed",
        "user.updated",
        "user.password_changed",
        "session.ended:change",
        "session.created",
        "session.ended:logout",
        "session.created",
        "session.created",
        "session.ended:revoked",
        "user.password_reset",
        "session.ended:reset",
        "session.created",
        "session.ended:deletion",
        "user.deleted",
    ]
    rows = await audit_rows(servers.database_url, uid)
    assert [described(row["type"], row["data"]) for row in rows] == expected
    published = await events.until(lambda e: e["type"] == "user.deleted" and e["user_id"] == uid)
    mine = [e for e in published if e["user_id"] == uid]
    assert [described(e["type"], e["data"]) for e in mine] == expected
    assert [e["id"] for e in mine] == [row["event_id"] for row in rows]
    assert "password" not in json.dumps(mine).replace("password_", "")


async def test_audit_lists_only_the_callers_events_newest_first(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    _, mine = await new_account(client, unique("mine"))
    _, theirs = await new_account(client, unique("theirs"))
    assert (await logout(client, theirs)).status_code == 204

    assert await audit_types(client, mine) == ["session.created", "user.created"]
    limited = await client.get("/api/auth/audit?limit=1", headers=bearer(mine))
    assert [e["type"] for e in limited.json()["events"]] == ["session.created"]


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=abc", "limit=1000", "limit=", "limit=1&limit=2"]
)
async def test_a_bad_audit_limit_is_400(
    client: httpx.AsyncClient, unique: Callable[[str], str], query: str
):
    _, token = await new_account(client, unique("limits"))
    assert_error(
        await client.get(f"/api/auth/audit?{query}", headers=bearer(token)), 400, "validation_error"
    )


async def test_audit_needs_a_token(client: httpx.AsyncClient):
    assert_error(await client.get("/api/auth/audit"), 401, "unauthorized")


async def test_throttled_logins_are_recorded(
    stack_factory: Callable[..., Stack], servers: Servers, unique: Callable[[str], str]
):
    # Own stack: hammering the shared one would throttle other tests' address.
    strict = full_stack(stack_factory(LOGIN_MAX_FAILURES="2"))
    async with httpx.AsyncClient(base_url=strict.url, timeout=15) as http:
        user, _ = await new_account(http, unique("hammered"))
        for _ in range(30):
            if (await login(http, user["username"], "wrong-password1")).status_code == 429:
                break
        else:
            pytest.fail("never throttled")
    types = [row["type"] for row in await audit_rows(servers.database_url, user["id"])]
    assert "login.failed" in types
    assert types[-1] == "login.throttled"
