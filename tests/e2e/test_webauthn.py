"""Passkeys through the API, answered by a software authenticator: registration,
passwordless sign-in, and every way an answer is refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from common.keys import Keys
from common.security.opaque_tokens import token_hash
from tests.e2e.helpers import assert_error, assert_token_answer, bearer, new_account, profile
from tests.e2e.passkeys import (
    BASE,
    event_reasons,
    fetch,
    login_options,
    passkey_login,
    passkeys_of,
    register_options,
    register_passkey,
)
from tests.e2e.soft_authenticator import SoftAuthenticator, b64url
from tests.e2e.stack import Stack


@pytest.fixture
async def redis(stack: Stack) -> AsyncIterator[Redis]:
    client = Redis.from_url(stack.env["REDIS_URL"])
    yield client
    await client.aclose()


@pytest.fixture
async def account(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> tuple[dict[str, Any], str]:
    return await new_account(client, unique("pk"))


async def test_register_then_sign_in_without_a_password(
    client: httpx.AsyncClient, stack: Stack, account: tuple[dict[str, Any], str]
) -> None:
    user, token = account
    device = SoftAuthenticator()
    passkey = await register_passkey(client, token, device, name="Work laptop")
    assert passkey["name"] == "Work laptop"
    assert passkey["transports"] == ["internal"]
    assert passkey["last_used_at"] is None
    assert [p["id"] for p in await passkeys_of(client, token)] == [passkey["id"]]

    signed_in = assert_token_answer(await passkey_login(client, device))
    assert signed_in["user"] == {k: user[k] for k in ("id", "username", "email")}
    assert (await profile(client, signed_in["token"])).status_code == 200
    rows = await fetch(
        stack,
        "SELECT s.amr, u.last_login_at FROM user_sessions s JOIN users u ON u.id = s.user_id"
        " WHERE s.user_id = $1 ORDER BY s.id DESC LIMIT 1",
        user["id"],
    )
    assert rows[0]["amr"] == ["hwk", "user", "mfa"]
    assert rows[0]["last_login_at"] is not None
    (stored,) = await fetch(
        stack,
        "SELECT sign_count, last_used_at FROM webauthn_credentials WHERE id = $1",
        passkey["id"],
    )
    assert stored["sign_count"] == 1
    assert stored["last_used_at"] is not None
    types = [
        r["type"]
        for r in await fetch(
            stack, "SELECT type FROM audit_events WHERE user_id = $1 ORDER BY id", user["id"]
        )
    ]
    assert "webauthn.registered" in types
    assert types[-1] == "webauthn.login"


async def test_options_challenge_is_short_lived_and_taken_once(
    client: httpx.AsyncClient, stack: Stack, redis: Redis, account: tuple[dict[str, Any], str]
) -> None:
    _, token = account
    device = SoftAuthenticator()
    await register_passkey(client, token, device)
    options = await login_options(client)
    key = Keys(stack.prefix).webauthn_ceremony(token_hash(options["ceremony"]))
    assert 0 < await redis.pttl(key) <= 120_000
    credential = device.get(options["publicKey"])
    body = {"ceremony": options["ceremony"], "credential": credential}
    assert_token_answer(await client.post(f"{BASE}/login", json=body))
    assert not await redis.exists(key)
    # The very same answer again: its challenge is gone.
    assert_error(await client.post(f"{BASE}/login", json=body), 401, "invalid_credentials")
    assert "ceremony" in await event_reasons(stack, None, "webauthn.login_failed")


async def test_a_registration_answer_counts_once(
    client: httpx.AsyncClient, stack: Stack, account: tuple[dict[str, Any], str]
) -> None:
    _, token = account
    options = await register_options(client, token)
    body = {
        "ceremony": options["ceremony"],
        "credential": SoftAuthenticator().create(options["publicKey"]),
    }
    assert (
        await client.post(f"{BASE}/register", json=body, headers=bearer(token))
    ).status_code == 201
    again = await client.post(f"{BASE}/register", json=body, headers=bearer(token))
    assert assert_error(again, 400, "invalid_passkey")["error"]["details"] == {"reason": "ceremony"}
    assert len(await passkeys_of(client, token)) == 1


async def test_a_ceremony_is_bound_to_the_user_who_asked(
    client: httpx.AsyncClient, unique: Callable[[str], str], account: tuple[dict[str, Any], str]
) -> None:
    _, token = account
    _, other_token = await new_account(client, unique("pk"))
    options = await register_options(client, token)
    body = {
        "ceremony": options["ceremony"],
        "credential": SoftAuthenticator().create(options["publicKey"]),
    }
    answer = await client.post(f"{BASE}/register", json=body, headers=bearer(other_token))
    assert_error(answer, 400, "invalid_passkey")
    assert await passkeys_of(client, other_token) == []


async def test_wrong_origin_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, stack: Stack, account: tuple[dict[str, Any], str]
) -> None:
    user, token = account
    device = SoftAuthenticator()
    options = await register_options(client, token)
    body = {
        "ceremony": options["ceremony"],
        "credential": device.create(options["publicKey"], origin="https://evil.example"),
    }
    answer = await client.post(f"{BASE}/register", json=body, headers=bearer(token))
    assert assert_error(answer, 400, "invalid_passkey")["error"]["details"] == {
        "reason": "attestation"
    }
    assert await passkeys_of(client, token) == []

    device.passkeys.clear()
    await register_passkey(client, token, device)
    refused = await passkey_login(client, device, origin="http://localhost:9999")
    assert_error(refused, 401, "invalid_credentials")
    assert "assertion: InvalidAuthenticationResponse" in await event_reasons(
        stack, user["id"], "webauthn.login_failed"
    )


async def test_unknown_and_deleted_passkeys_are_refused(
    client: httpx.AsyncClient,
    stack: Stack,
    unique: Callable[[str], str],
    account: tuple[dict[str, Any], str],
) -> None:
    user, token = account
    stranger = SoftAuthenticator()
    stranger.create(
        {"rp": {"id": "localhost"}, "user": {"id": b64url(b"nobody")}, "challenge": "AA"}
    )
    assert_error(await passkey_login(client, stranger), 401, "invalid_credentials")
    assert "unknown_credential" in await event_reasons(stack, None, "webauthn.login_failed")

    device = SoftAuthenticator()
    passkey = await register_passkey(client, token, device)
    _, other_token = await new_account(client, unique("pk"))
    # Someone else's passkey id is not found, like one that does not exist.
    assert_error(
        await client.delete(f"{BASE}/credentials/{passkey['id']}", headers=bearer(other_token)),
        404,
        "not_found",
    )
    deleted = await client.delete(f"{BASE}/credentials/{passkey['id']}", headers=bearer(token))
    assert deleted.status_code == 204, deleted.text
    assert await passkeys_of(client, token) == []
    assert_error(
        await client.delete(f"{BASE}/credentials/{passkey['id']}", headers=bearer(token)),
        404,
        "not_found",
    )
    assert_error(await passkey_login(client, device), 401, "invalid_credentials")
    types = [
        r["type"]
        for r in await fetch(stack, "SELECT type FROM audit_events WHERE user_id = $1", user["id"])
    ]
    assert "webauthn.deleted" in types


async def test_a_counter_that_goes_back_is_refused_and_audited(
    client: httpx.AsyncClient, stack: Stack, account: tuple[dict[str, Any], str]
) -> None:
    user, token = account
    device = SoftAuthenticator()
    passkey = await register_passkey(client, token, device)
    assert_token_answer(await passkey_login(client, device, sign_count=5))
    assert_error(await passkey_login(client, device, sign_count=5), 401, "invalid_credentials")
    assert_error(await passkey_login(client, device, sign_count=3), 401, "invalid_credentials")
    rows = await fetch(
        stack,
        "SELECT data FROM audit_events"
        " WHERE user_id = $1 AND type = 'webauthn.sign_count_regressed'",
        user["id"],
    )
    assert len(rows) == 2
    (stored,) = await fetch(
        stack, "SELECT sign_count FROM webauthn_credentials WHERE id = $1", passkey["id"]
    )
    assert stored["sign_count"] == 5
    assert_token_answer(await passkey_login(client, device, sign_count=6))


async def test_username_offers_that_accounts_passkeys_only(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    name = unique("pk")
    _, token = await new_account(client, name)
    mine, theirs = SoftAuthenticator(), SoftAuthenticator()
    await register_passkey(client, token, mine)
    await register_passkey(client, token, mine)
    _, other_token = await new_account(client, unique("pk"))
    await register_passkey(client, other_token, theirs)

    options = await login_options(client, username=name.upper())
    allowed = [c["id"] for c in options["publicKey"]["allowCredentials"]]
    assert allowed == [b64url(p.credential_id) for p in mine.passkeys]
    assert options["publicKey"]["userVerification"] == "required"
    wrong = theirs.get(options["publicKey"])
    answer = await client.post(
        f"{BASE}/login", json={"ceremony": options["ceremony"], "credential": wrong}
    )
    assert_error(answer, 401, "invalid_credentials")
    # Unknown names get the same kind of answer as a discoverable sign-in.
    assert (await login_options(client, username=unique("nobody")))["publicKey"][
        "allowCredentials"
    ] == []


async def test_a_disabled_account_cannot_sign_in_with_its_passkey(
    client: httpx.AsyncClient, stack: Stack, account: tuple[dict[str, Any], str]
) -> None:
    user, token = account
    device = SoftAuthenticator()
    await register_passkey(client, token, device)
    await fetch(stack, "UPDATE users SET disabled_at = now() WHERE id = $1", user["id"])
    assert_error(await passkey_login(client, device), 403, "account_disabled")


async def test_user_verification_is_required(
    client: httpx.AsyncClient, stack: Stack, account: tuple[dict[str, Any], str]
) -> None:
    user, token = account
    device = SoftAuthenticator()
    options = await register_options(client, token)
    body = {
        "ceremony": options["ceremony"],
        "credential": device.create(options["publicKey"], verified=False),
    }
    answer = await client.post(f"{BASE}/register", json=body, headers=bearer(token))
    assert_error(answer, 400, "invalid_passkey")
    device.passkeys.clear()
    await register_passkey(client, token, device)
    # Present, not verified (no PIN, no biometric): one factor, refused.
    assert_error(await passkey_login(client, device, verified=False), 401, "invalid_credentials")
    assert await event_reasons(stack, user["id"], "webauthn.login_failed") == [
        "assertion: InvalidAuthenticationResponse"
    ]
    assert_token_answer(await passkey_login(client, device))
