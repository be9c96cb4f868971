"""Second factors for end-to-end tests: an authenticator app, enrolment, two-step logins."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pyotp

from tests.e2e.helpers import PASSWORD, bearer, login, new_account

STEP = 30


@dataclass
class Authenticator:
    """An authenticator app holding one secret: each code it gives is of a step
    not given before (the server accepts each step once), never of a step that
    may leave the server's window (now-1) while the request is on its way."""

    secret: str
    last_step: int = field(default=-1)

    def next_code(self) -> str:
        step = max(int(time.time() // STEP), self.last_step + 1)
        self.last_step = step
        return pyotp.TOTP(self.secret).at(step * STEP)

    def wait_for_code(self) -> str:
        """Like next_code, first waiting (up to a step) until the window holds an unused step."""
        while self.last_step >= int(time.time() // STEP) + 1:
            time.sleep(0.2)
        return self.next_code()


@dataclass
class Enrolled:
    app: Authenticator
    recovery_codes: list[str]


async def enrol(client: httpx.AsyncClient, token: str, password: str = PASSWORD) -> Enrolled:
    """Turn TOTP on for the token's user: start, then confirm with the first code."""
    started = await client.post(
        "/api/auth/mfa/totp", json={"password": password}, headers=bearer(token)
    )
    assert started.status_code == 200, started.text
    app = Authenticator(started.json()["secret"])
    confirmed = await client.post(
        "/api/auth/mfa/totp/confirm", json={"code": app.next_code()}, headers=bearer(token)
    )
    assert confirmed.status_code == 200, confirmed.text
    return Enrolled(app, confirmed.json()["recovery_codes"])


async def first_step(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> str:
    """Log in with the password where a second factor is on: the mfa_token."""
    answer = await login(client, name, password)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["mfa_required"] is True, body
    return str(body["mfa_token"])


async def verify(client: httpx.AsyncClient, mfa_token: str, **proof: str) -> httpx.Response:
    return await client.post("/api/auth/mfa/verify", json={"mfa_token": mfa_token, **proof})


async def execute(database_url: str, statement: str, *args: Any) -> Any:
    """Run one statement against the stack's database (tests reach under the API here)."""
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval(statement, *args)
    finally:
        await conn.close()


async def enrolled_account(
    client: httpx.AsyncClient, unique: Callable[[str], str], stem: str = "mfa"
) -> tuple[str, str, Enrolled]:
    """A new account with TOTP on: (name, its first token, Enrolled)."""
    name = unique(stem)
    _, token = await new_account(client, name)
    return name, token, await enrol(client, token)
