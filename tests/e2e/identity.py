"""Helpers of the identity tests: emailed links, the operator's CLI, admins."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from email.message import EmailMessage
from typing import Any

import asyncpg
import httpx

from tests.conftest import SmtpSink
from tests.e2e.helpers import audit_rows, bearer, email_for, login, new_account
from tests.e2e.stack import Stack

TOKEN_IN_MAIL = re.compile(r"Your verification token: (\S+)")


def token_in(message: EmailMessage) -> str:
    found = TOKEN_IN_MAIL.search(message.get_content())
    assert found, message.get_content()
    assert f"/account#verify-email={found.group(1)}" in message.get_content()
    return found.group(1)


async def mailed_token(sink: SmtpSink, to: str) -> str:
    """The token of the next verification (or change) mail to ``to``."""
    return token_in(await sink.wait_for(to.lower()))


async def verify(client: httpx.AsyncClient, token: Any) -> httpx.Response:
    return await client.post("/api/auth/verify-email", json={"token": token})


def gatehouse(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``gatehouse`` command line against the stack's database and Redis."""
    return subprocess.run(
        [sys.executable, "-m", "common.ops.cli", *args],
        env={**stack.env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def grant(stack: Stack, email: str, role: str = "admin") -> None:
    done = gatehouse(stack, "admin", "grant", email, role)
    assert done.returncode == 0, done.stderr


async def new_admin(
    client: httpx.AsyncClient, stack: Stack, name: str
) -> tuple[dict[str, Any], str]:
    """A new account made admin with the CLI, logged in again so its token says so."""
    user, _ = await new_account(client, name)
    grant(stack, email_for(name))
    answer = await login(client, name)
    assert answer.status_code == 200, answer.text
    return user, answer.json()["token"]


async def admin_call(
    client: httpx.AsyncClient,
    token: str,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> httpx.Response:
    return await client.request(
        method, f"/api/admin{path}", headers={**(headers or {}), **bearer(token)}, **kwargs
    )


async def sql(database_url: str, statement: str, *args: Any) -> Any:
    """One statement on the test database (test set-up only), its first value."""
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval(statement, *args)
    finally:
        await conn.close()


async def audit_events(database_url: str, user_id: int) -> list[tuple[str, dict[str, Any]]]:
    """The user's audit events as (type, data), oldest first."""
    return [
        (row["type"], json.loads(row["data"])) for row in await audit_rows(database_url, user_id)
    ]
