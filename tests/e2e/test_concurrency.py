"""Many requests at once through one gateway: uniqueness holds, nothing is lost."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import asyncpg
import httpx
import pytest

from tests.conftest import Servers
from tests.e2e.helpers import (
    PASSWORD,
    assert_error,
    change_password,
    count_users_named_like,
    login,
    new_account,
    profile,
    register,
)

COUNT_USERS = {
    "username": "SELECT count(*) FROM users WHERE lower(username) = lower($1)",
    "email": "SELECT count(*) FROM users WHERE lower(email) = lower($1)",
}


async def count_users(servers: Servers, clash: str, value: str) -> int:
    conn = await asyncpg.connect(servers.database_url)
    try:
        return int(await conn.fetchval(COUNT_USERS[clash], value))
    finally:
        await conn.close()


@pytest.mark.parametrize("clash", ["username", "email"])
async def test_concurrent_duplicates_create_one_user(
    client: httpx.AsyncClient, servers: Servers, unique: Callable[[str], str], clash: str
):
    stem = unique("race")
    if clash == "username":
        # One username, written in different cases, with a different email each.
        names = [stem.upper() if i % 2 else stem for i in range(20)]
        emails = [f"{stem}_{i}@example.com" for i in range(20)]
    else:
        names = [f"{stem}_{i}" for i in range(20)]
        emails = [
            f"{stem}@example.com".upper() if i % 2 else f"{stem}@example.com" for i in range(20)
        ]

    answers = await asyncio.gather(
        *(register(client, name, email=email) for name, email in zip(names, emails, strict=True))
    )

    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {201: 1, 409: 19}, statuses
    for answer in answers:
        if answer.status_code == 409:
            assert_error(answer, 409, "conflict")
    clashing_value = stem if clash == "username" else f"{stem}@example.com"
    assert await count_users(servers, clash, clashing_value) == 1

    winner = next(answer for answer in answers if answer.status_code == 201).json()["user"]
    assert (await login(client, winner["username"])).status_code == 200


async def test_concurrent_distinct_registrations_all_succeed(
    client: httpx.AsyncClient, servers: Servers, unique: Callable[[str], str]
):
    stem = unique("crowd")
    names = [f"{stem}_{i}" for i in range(50)]
    answers = await asyncio.gather(*(register(client, name) for name in names))

    assert [answer.status_code for answer in answers] == [201] * 50, [
        answer.text for answer in answers if answer.status_code != 201
    ]
    users = [answer.json()["user"] for answer in answers]
    assert [user["username"] for user in users] == names
    assert len({user["id"] for user in users}) == 50
    stored = await count_users_named_like(servers.database_url, stem)
    assert stored == 50


async def test_concurrent_password_changes_one_wins(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    """Ten changes from one session at once: one applies, the rest are refused."""
    name = unique("changes")
    _, token = await new_account(client, name)
    candidates = [f"n3w-Passw0rd-{i}" for i in range(10)]

    answers = await asyncio.gather(
        *(change_password(client, token, PASSWORD, new) for new in candidates)
    )

    statuses = Counter(answer.status_code for answer in answers)
    assert statuses[200] == 1, [answer.text for answer in answers]
    assert statuses[401] == 9, [answer.text for answer in answers]
    winner = candidates[next(i for i, a in enumerate(answers) if a.status_code == 200)]
    logins = await asyncio.gather(*(login(client, name, password) for password in candidates))
    assert [
        password for password, a in zip(candidates, logins, strict=True) if a.status_code == 200
    ] == [winner]
    assert_error(await login(client, name, PASSWORD), 401, "invalid_credentials")
    assert_error(await profile(client, token), 401, "invalid_token")


async def test_concurrent_logins_make_distinct_live_sessions(
    client: httpx.AsyncClient, unique: Callable[[str], str]
):
    name = unique("sessions")
    assert (await register(client, name)).status_code == 201
    answers = await asyncio.gather(*(login(client, name) for _ in range(20)))
    assert [answer.status_code for answer in answers] == [200] * 20
    tokens = [answer.json()["token"] for answer in answers]
    assert len(set(tokens)) == 20
    profiles = await asyncio.gather(*(profile(client, token) for token in tokens))
    assert [answer.status_code for answer in profiles] == [200] * 20
