"""Verified email over HTTP, with links delivered by SMTP to a local sink."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from tests.conftest import Servers, SmtpSink, base_env
from tests.e2e.helpers import (
    assert_error,
    audit_types,
    bearer,
    email_for,
    login,
    new_account,
    profile,
    refresh,
    register,
)
from tests.e2e.identity import mailed_token, sql, verify
from tests.e2e.stack import Stack, free_port, full_stack


@pytest.fixture(scope="module")
def mail_stack(
    servers: Servers, smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """A stack whose user worker mails verification links to the sink."""
    env = base_env(servers, f"ghe2e-verify-{time.time_ns()}") | {
        "SMTP_URL": smtp_sink.url,
        "SMTP_FROM": "Gatehouse <accounts@example.org>",
        "PUBLIC_URL": "https://accounts.example.org/",
    }
    stack = Stack(env, tmp_path_factory.mktemp("verify-logs"))
    try:
        yield full_stack(stack)
    finally:
        stack.stop()


@pytest.fixture
async def http(mail_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=mail_stack.url, timeout=15) as client:
        yield client


async def test_registration_mails_a_link_that_verifies_once(
    http: httpx.AsyncClient, smtp_sink: SmtpSink, unique: Callable[[str], str]
):
    name = unique("verifier")
    user, token = await new_account(http, name)
    message = await smtp_sink.wait_for(email_for(name).lower())
    assert message["From"] == "Gatehouse <accounts@example.org>"
    assert "https://accounts.example.org/account#verify-email=" in message.get_content()
    link_token = message.get_content().split("verify-email=")[1].split()[0]
    assert (await profile(http, token)).json()["user"]["email_verified"] is False

    answer = await verify(http, link_token)

    assert answer.status_code == 200, answer.text
    assert answer.json()["user"] == {**user, "email_verified": True}
    assert (await profile(http, token)).json()["user"]["email_verified"] is True
    used = assert_error(await verify(http, link_token), 400, "invalid_email_token")
    assert used["error"]["details"] == {"reason": "used"}
    assert "user.email_verified" in await audit_types(http, token)


async def test_an_expired_link_is_refused(
    http: httpx.AsyncClient,
    smtp_sink: SmtpSink,
    servers: Servers,
    unique: Callable[[str], str],
):
    name = unique("late")
    _, token = await new_account(http, name)
    link_token = await mailed_token(smtp_sink, email_for(name))
    await sql(
        servers.database_url,
        "UPDATE email_tokens SET expires_at = now() - interval '1 second' "
        "WHERE user_id = (SELECT id FROM users WHERE username = $1)",
        name,
    )

    expired = assert_error(await verify(http, link_token), 400, "invalid_email_token")

    assert expired["error"]["details"] == {"reason": "expired"}
    assert (await profile(http, token)).json()["user"]["email_verified"] is False


async def test_resend_voids_the_old_link_and_stops_once_verified(
    http: httpx.AsyncClient, smtp_sink: SmtpSink, unique: Callable[[str], str]
):
    name = unique("resender")
    _, token = await new_account(http, name)
    first = await mailed_token(smtp_sink, email_for(name))

    answer = await http.post("/api/auth/verify-email/resend", headers=bearer(token))

    assert answer.status_code == 202, answer.text
    assert answer.json()["sent"] is True
    second = await mailed_token(smtp_sink, email_for(name))
    assert second != first
    assert_error(await verify(http, first), 400, "invalid_email_token")
    assert (await verify(http, second)).status_code == 200
    again = await http.post("/api/auth/verify-email/resend", headers=bearer(token))
    assert again.status_code == 202
    assert again.json() == {"success": True, "message": "Already verified", "sent": False}


async def test_an_email_change_waits_for_the_new_address_and_tells_the_old(
    http: httpx.AsyncClient, smtp_sink: SmtpSink, unique: Callable[[str], str]
):
    name = unique("mover")
    old = email_for(name).lower()
    new = f"{unique('moved')}@example.net"
    _, token = await new_account(http, name)
    await mailed_token(smtp_sink, old)

    answer = await http.patch("/api/users/profile", json={"email": new}, headers=bearer(token))

    assert answer.status_code == 200, answer.text
    assert answer.json()["user"]["email"] == old
    assert answer.json()["pending_email"] == new
    notice = await smtp_sink.wait_for(old)
    assert new in notice.get_content()
    assert "verify-email=" not in notice.get_content()
    link_token = await mailed_token(smtp_sink, new)
    assert_error(await login(http, new), 401, "invalid_credentials")
    assert (await profile(http, token)).json()["user"]["pending_email"] == new

    confirmed = await verify(http, link_token)

    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["user"]["email"] == new
    shown = (await profile(http, token)).json()["user"]
    assert (shown["email"], shown["email_verified"], shown["pending_email"]) == (new, True, None)
    assert (await login(http, new)).status_code == 200
    assert_error(await login(http, old), 401, "invalid_credentials")
    assert_error(await verify(http, link_token), 400, "invalid_email_token")


async def test_a_change_to_an_address_taken_meanwhile_is_409(
    http: httpx.AsyncClient, smtp_sink: SmtpSink, unique: Callable[[str], str]
):
    name = unique("slow")
    wanted = f"{unique('wanted')}@example.net"
    _, token = await new_account(http, name)
    answer = await http.patch("/api/users/profile", json={"email": wanted}, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    link_token = await mailed_token(smtp_sink, wanted)
    quicker = unique("quicker")
    assert (await register(http, quicker, email=wanted)).status_code == 201

    assert_error(await verify(http, link_token), 409, "conflict")

    assert (await profile(http, token)).json()["user"]["email"] == email_for(name).lower()


async def test_a_verification_link_for_an_old_address_is_void(
    http: httpx.AsyncClient, smtp_sink: SmtpSink, unique: Callable[[str], str]
):
    name = unique("twice")
    new = f"{unique('second')}@example.net"
    _, token = await new_account(http, name)
    first = await mailed_token(smtp_sink, email_for(name))
    await http.patch("/api/users/profile", json={"email": new}, headers=bearer(token))
    assert (await verify(http, await mailed_token(smtp_sink, new))).status_code == 200

    stale = assert_error(await verify(http, first), 400, "invalid_email_token")

    assert stale["error"]["details"] == {"reason": "superseded"}


@pytest.mark.parametrize(
    "body",
    [{}, {"token": ""}, {"token": 7}, {"token": None}, {"token": "x" * 600}, {"token": "a\x00b"}],
)
async def test_bad_verify_bodies_are_400(http: httpx.AsyncClient, body: object):
    assert_error(await http.post("/api/auth/verify-email", json=body), 400, "validation_error")


async def test_an_unknown_token_is_400_and_resend_needs_a_bearer(http: httpx.AsyncClient):
    unknown = assert_error(await verify(http, "no-such-token"), 400, "invalid_email_token")
    assert unknown["error"]["details"] == {"reason": "unknown"}
    assert_error(await http.post("/api/auth/verify-email/resend"), 401, "unauthorized")


async def test_require_verified_email_refuses_login_and_refresh_until_verified(
    http: httpx.AsyncClient,
    smtp_sink: SmtpSink,
    stack_factory: Callable[..., Stack],
    unique: Callable[[str], str],
):
    strict = full_stack(stack_factory(SMTP_URL=smtp_sink.url, REQUIRE_VERIFIED_EMAIL="true"))
    name = unique("strict")
    await new_account(http, name)
    link_token = await mailed_token(smtp_sink, email_for(name))
    # A session begun while the requirement was off (the stacks share one database).
    refresh_token = (await login(http, name)).json()["refresh_token"]
    async with httpx.AsyncClient(base_url=strict.url, timeout=15) as client:
        assert_error(await login(client, name), 403, "email_not_verified")
        assert_error(await refresh(client, refresh_token), 403, "email_not_verified")

        assert (await verify(client, link_token)).status_code == 200

        assert (await login(client, name)).status_code == 200
        assert (await refresh(client, refresh_token)).status_code == 200


async def test_registration_succeeds_when_mail_cannot_be_sent(
    stack_factory: Callable[..., Stack], unique: Callable[[str], str]
):
    # Nothing listens there: every attempt is refused.
    dead = full_stack(stack_factory(SMTP_URL=f"smtp://127.0.0.1:{free_port()}"))
    async with httpx.AsyncClient(base_url=dead.url, timeout=15) as client:
        answer = await register(client, unique("nomail"))
        assert answer.status_code == 201, answer.text
    user_log = next(p.log for p in dead.processes if p.service == "user")
    deadline = time.monotonic() + 10
    while "sending verification (attempt 1) failed" not in user_log.read_text():
        assert time.monotonic() < deadline, user_log.read_text()
        await asyncio.sleep(0.1)
