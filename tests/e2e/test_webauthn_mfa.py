"""A passkey as the second factor of a login waiting for one (its mfa_token).

The pending logins are made with the shared contract's PendingLogins, as a
password login with a second factor on makes them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from redis.asyncio import Redis

from auth_app.mfa.pending import PendingLogins
from common.keys import Keys
from tests.e2e.helpers import assert_error, assert_token_answer, login, new_account, session_id
from tests.e2e.passkeys import BASE, fetch, login_options, register_passkey
from tests.e2e.soft_authenticator import SoftAuthenticator, b64url
from tests.e2e.stack import Stack


@pytest.fixture
async def pending(stack: Stack) -> AsyncIterator[PendingLogins]:
    client = Redis.from_url(stack.env["REDIS_URL"])
    yield PendingLogins(client, Keys(stack.prefix), ttl=60)
    await client.aclose()


async def test_a_passkey_finishes_a_login_waiting_for_its_second_factor(
    client: httpx.AsyncClient,
    stack: Stack,
    pending: PendingLogins,
    unique: Callable[[str], str],
) -> None:
    user, token = await new_account(client, unique("pk"))
    device = SoftAuthenticator()
    await register_passkey(client, token, device)

    # mfa_token with the answer (after a discoverable options call).
    mfa_token = await pending.begin(user["id"], amr=["pwd"], purpose="verify")
    options = await login_options(client)
    body = {
        "ceremony": options["ceremony"],
        "credential": device.get(options["publicKey"]),
        "mfa_token": mfa_token,
    }
    finished = assert_token_answer(await client.post(f"{BASE}/login", json=body))
    assert finished["user"]["id"] == user["id"]
    (session,) = await fetch(
        stack,
        "SELECT amr FROM user_sessions WHERE id = $1",
        session_id(finished["token"]),
    )
    assert session["amr"] == ["pwd", "hwk", "user", "mfa"]
    # The token was taken: a second use is refused.
    options = await login_options(client)
    body = {
        "ceremony": options["ceremony"],
        "credential": device.get(options["publicKey"]),
        "mfa_token": mfa_token,
    }
    assert_error(await client.post(f"{BASE}/login", json=body), 401, "invalid_token")

    # mfa_token with the options call: that account's passkeys are offered.
    mfa_token = await pending.begin(user["id"], amr=["pwd"], purpose="verify")
    options = await login_options(client, mfa_token=mfa_token)
    assert [c["id"] for c in options["publicKey"]["allowCredentials"]] == [
        b64url(device.passkeys[0].credential_id)
    ]
    body = {"ceremony": options["ceremony"], "credential": device.get(options["publicKey"])}
    assert_token_answer(await client.post(f"{BASE}/login", json=body))
    # An enrolment token is not a second step.
    enrol = await pending.begin(user["id"], amr=["pwd"], purpose="enrol")
    answer = await client.post(f"{BASE}/login/options", json={"mfa_token": enrol})
    assert_error(answer, 401, "invalid_token")


async def test_another_accounts_passkey_does_not_finish_a_pending_login(
    client: httpx.AsyncClient,
    stack: Stack,
    pending: PendingLogins,
    unique: Callable[[str], str],
) -> None:
    victim, _ = await new_account(client, unique("pk"))
    _, attacker_token = await new_account(client, unique("pk"))
    device = SoftAuthenticator()
    await register_passkey(client, attacker_token, device)

    mfa_token = await pending.begin(victim["id"], amr=["pwd"], purpose="verify")
    options = await login_options(client)
    body = {
        "ceremony": options["ceremony"],
        "credential": device.get(options["publicKey"]),
        "mfa_token": mfa_token,
    }
    assert_error(await client.post(f"{BASE}/login", json=body), 401, "invalid_credentials")
    # The attempt spent the victim's token.
    assert await pending.take(mfa_token) is None

    mfa_token = await pending.begin(victim["id"], amr=["pwd"], purpose="verify")
    options = await login_options(client, mfa_token=mfa_token)
    body = {"ceremony": options["ceremony"], "credential": device.get(options["publicKey"])}
    assert_error(await client.post(f"{BASE}/login", json=body), 401, "invalid_credentials")
    sessions = await fetch(stack, "SELECT id FROM user_sessions WHERE user_id = $1", victim["id"])
    assert len(sessions) == 1, "only the password login of new_account"


async def test_a_password_login_of_a_passkey_owner_waits_for_the_passkey(
    client: httpx.AsyncClient, stack: Stack, unique: Callable[[str], str]
) -> None:
    """A registered passkey is a second factor: the password alone answers a
    challenge naming it, no token, and the passkey finishes that login."""
    name = unique("pk2")
    user, token = await new_account(client, name)
    device = SoftAuthenticator()
    await register_passkey(client, token, device)

    challenge = await login(client, name)
    assert challenge.status_code == 200, challenge.text
    answer = challenge.json()
    assert answer["mfa_required"] is True
    assert "token" not in answer
    assert "refresh_token" not in answer
    assert answer["methods"] == ["webauthn"]

    options = await login_options(client, mfa_token=answer["mfa_token"])
    body = {"ceremony": options["ceremony"], "credential": device.get(options["publicKey"])}
    finished = assert_token_answer(await client.post(f"{BASE}/login", json=body))
    assert finished["user"]["id"] == user["id"]
