"""Passkey calls for the end-to-end tests, answered by the software authenticator."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx

from tests.e2e.helpers import bearer
from tests.e2e.soft_authenticator import SoftAuthenticator
from tests.e2e.stack import Stack

BASE = "/api/auth/webauthn"


async def register_options(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    answer = await client.post(f"{BASE}/register/options", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["success"] is True
    return body


async def register_passkey(
    client: httpx.AsyncClient, token: str, device: SoftAuthenticator, name: str | None = "Laptop"
) -> dict[str, Any]:
    options = await register_options(client, token)
    body: dict[str, Any] = {
        "ceremony": options["ceremony"],
        "credential": device.create(options["publicKey"]),
    }
    if name is not None:
        body["name"] = name
    answer = await client.post(f"{BASE}/register", json=body, headers=bearer(token))
    assert answer.status_code == 201, answer.text
    passkey: dict[str, Any] = answer.json()["passkey"]
    return passkey


async def login_options(client: httpx.AsyncClient, **body: str) -> dict[str, Any]:
    answer = await client.post(f"{BASE}/login/options", json=body)
    assert answer.status_code == 200, answer.text
    options: dict[str, Any] = answer.json()
    return options


async def passkey_login(
    client: httpx.AsyncClient, device: SoftAuthenticator, **get: Any
) -> httpx.Response:
    options = await login_options(client)
    credential = device.get(options["publicKey"], **get)
    return await client.post(
        f"{BASE}/login", json={"ceremony": options["ceremony"], "credential": credential}
    )


async def passkeys_of(client: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    answer = await client.get(f"{BASE}/credentials", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    listed: list[dict[str, Any]] = answer.json()["passkeys"]
    return listed


async def fetch(stack: Stack, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(stack.env["DATABASE_URL"])
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def event_reasons(stack: Stack, user_id: int | None, event_type: str) -> list[Any]:
    rows = await fetch(
        stack,
        "SELECT data FROM audit_events WHERE type = $1 AND user_id IS NOT DISTINCT FROM $2"
        " ORDER BY id",
        event_type,
        user_id,
    )
    return [json.loads(row["data"]).get("reason") for row in rows]
