"""Sealed values on a live stack: tampering fails closed, keys rotate, no secret reaches a log."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest

from common.security.opaque_tokens import token_hash
from tests.conftest import Servers
from tests.e2e.helpers import (
    assert_error,
    assert_token_answer,
    bearer,
    login,
    profile,
    refresh,
    register,
    session_id,
    sessions_of,
)
from tests.e2e.mfa_helpers import enrolled_account, execute, first_step, verify
from tests.e2e.stack import APP_MODULES, Stack, free_port, full_stack


async def test_a_tampered_refresh_successor_is_refused_and_the_session_kept(
    client: httpx.AsyncClient, servers: Servers, unique: Callable[[str], str]
):
    name = unique("tamper")
    assert (await register(client, name)).status_code == 201
    first = assert_token_answer(await login(client, name))
    successor = assert_token_answer(await refresh(client, str(first["refresh_token"])))
    flipped = await execute(
        servers.database_url,
        "UPDATE session_refresh_tokens"
        " SET sealed_successor = overlay(sealed_successor placing"
        " decode(lpad(to_hex(get_byte(sealed_successor, 20) # 1), 2, '0'), 'hex') from 21 for 1)"
        " WHERE token_hash = $1 RETURNING token_hash",
        token_hash(str(first["refresh_token"])),
    )
    assert flipped is not None

    refused = await refresh(client, str(first["refresh_token"]))
    assert_error(refused, 401, "invalid_token")
    assert "eyJ" not in refused.text
    # Not ended, not forked: the successor pair goes on, in the one session.
    assert (await profile(client, str(successor["token"]))).status_code == 200
    onward = assert_token_answer(await refresh(client, str(successor["refresh_token"])))
    assert [s["id"] for s in await sessions_of(client, str(onward["token"]))] == [
        session_id(str(first["token"]))
    ]


async def test_a_tampered_totp_secret_fails_closed(
    client: httpx.AsyncClient, servers: Servers, unique: Callable[[str], str]
):
    name, _, enrolled = await enrolled_account(client, unique, "sealed")
    sealed = await execute(
        servers.database_url,
        "SELECT t.sealed_secret FROM user_totp t JOIN users u ON u.id = t.user_id"
        " WHERE u.username = $1",
        name,
    )
    assert enrolled.app.secret.encode() not in sealed
    await execute(
        servers.database_url,
        "UPDATE user_totp SET sealed_secret = $2"
        " WHERE user_id = (SELECT id FROM users WHERE username = $1)",
        name,
        sealed[:-1] + bytes([sealed[-1] ^ 1]),
    )
    refused = await verify(client, await first_step(client, name), code=enrolled.app.next_code())
    assert_error(refused, 401, "invalid_credentials")
    assert "eyJ" not in refused.text


async def test_the_totp_secret_of_another_user_does_not_open_in_this_row(
    client: httpx.AsyncClient, servers: Servers, unique: Callable[[str], str]
):
    """A sealed secret is bound to its owner: copied into another user's row, it fails."""
    name, _, _ = await enrolled_account(client, unique, "victim")
    thief, _, thief_enrolled = await enrolled_account(client, unique, "thief")
    await execute(
        servers.database_url,
        "UPDATE user_totp SET sealed_secret ="
        " (SELECT sealed_secret FROM user_totp t JOIN users u ON u.id = t.user_id"
        "  WHERE u.username = $2)"
        " WHERE user_id = (SELECT id FROM users WHERE username = $1)",
        name,
        thief,
    )
    refused = await verify(
        client, await first_step(client, name), code=thief_enrolled.app.next_code()
    )
    assert_error(refused, 401, "invalid_credentials")


def test_a_production_auth_worker_refuses_to_start_without_mfa_keys(
    stack_factory: Callable[..., Stack],
):
    env = {
        **os.environ,
        **stack_factory().env,
        "APP_ENV": "production",
        "JWT_SECRET": "Zq7-Lm2_Vx9pRt4kWc8nYb3hJd6fGs5a",
        "PORT": str(free_port()),
    }
    env.pop("MFA_ENCRYPTION_KEYS", None)
    done = subprocess.run(
        [sys.executable, "-m", APP_MODULES["auth"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "MFA_ENCRYPTION_KEYS is required when APP_ENV=production" in done.stderr
    assert "Traceback" not in done.stderr


def keys_env(*keys: tuple[str, bytes]) -> str:
    return ",".join(f"{kid}:{base64.b64encode(key).decode()}" for kid, key in keys)


def restart_auth(stack: Stack, **env: str) -> None:
    for process in stack.processes:
        if process.service == "auth" and process.running():
            process.signal(signal.SIGTERM)
            process.wait(15)
    stack.start("auth", **env)
    stack.wait_for_instances("auth", 1)


@pytest.mark.timeout(150)
async def test_rotating_the_encryption_key_keeps_secrets_readable_and_reseals_them(
    stack_factory: Callable[..., Stack], servers: Servers, unique: Callable[[str], str]
):
    old, new = ("old", bytes(range(32))), ("new", bytes(range(64, 96)))
    stack = full_stack(stack_factory(MFA_ENCRYPTION_KEYS=keys_env(old)))
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as http:
        name, _, enrolled = await enrolled_account(http, unique, "rotate")
        sealed_with = (
            "SELECT count(*) FROM user_totp t JOIN users u ON u.id = t.user_id"
            " WHERE u.username = $1 AND substring(t.sealed_secret FROM 1 FOR 5) = $2"
        )
        assert await execute(servers.database_url, sealed_with, name, b"\x01\x03old") == 1

        restart_auth(stack, MFA_ENCRYPTION_KEYS=keys_env(new, old))
        code = await asyncio.to_thread(enrolled.app.wait_for_code)
        assert_token_answer(await verify(http, await first_step(http, name), code=code))
        # Sealed anew with the first key at its use; the old key is no longer needed.
        assert await execute(servers.database_url, sealed_with, name, b"\x01\x03new") == 1

        restart_auth(stack, MFA_ENCRYPTION_KEYS=keys_env(new))
        code = await asyncio.to_thread(enrolled.app.wait_for_code)
        assert_token_answer(await verify(http, await first_step(http, name), code=code))


@pytest.mark.parametrize("log_format", ["human", "json"])
async def test_no_second_factor_secret_reaches_a_log(
    stack_factory: Callable[..., Stack], unique: Callable[[str], str], log_format: str
):
    stack = full_stack(stack_factory(LOG_LEVEL="DEBUG", LOG_FORMAT=log_format))
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as http:
        name, token, enrolled = await enrolled_account(http, unique, "quiet")
        mfa_token = await first_step(http, name)
        await verify(http, mfa_token, code="000000")
        done = assert_token_answer(await verify(http, mfa_token, code=enrolled.app.next_code()))
        again = await first_step(http, name)
        assert_token_answer(await verify(http, again, recovery_code=enrolled.recovery_codes[0]))
        fresh = await http.post(
            "/api/auth/mfa/recovery-codes",
            json={"recovery_code": enrolled.recovery_codes[1]},
            headers=bearer(token),
        )
        assert fresh.status_code == 200, fresh.text
    secrets = [
        enrolled.app.secret,
        mfa_token,
        again,
        str(done["refresh_token"]),
        *enrolled.recovery_codes,
        *fresh.json()["recovery_codes"],
    ]
    for process in stack.processes:
        text = process.log.read_text()
        for secret in secrets:
            assert secret not in text, f"{process.service}'s log holds {secret[:8]}..."
    assert "logged in (pwd,otp,mfa)" in next(
        p.log.read_text() for p in stack.processes if p.service == "auth"
    )
