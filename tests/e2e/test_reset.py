"""Password reset over HTTP, with tokens delivered by SMTP to a local sink."""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Servers, SmtpSink, base_env
from tests.e2e.helpers import (
    PASSWORD,
    assert_error,
    change_password,
    dev_log_reset_token,
    email_for,
    login,
    new_account,
    profile,
)
from tests.e2e.mfa_helpers import enrolled_account, verify
from tests.e2e.stack import Stack, full_stack

NEW_PASSWORD = "brandnew456"
TOKEN_IN_MAIL = re.compile(r"Your reset token: (\S+)")
RESET_SUBJECT = "Reset your Gatehouse password"
FORGOT_BODY = {
    "success": True,
    "message": "If an account has this email, a password reset token is on its way",
}


@pytest.fixture(scope="module")
def mail_stack(
    servers: Servers, smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """A stack whose auth worker sends reset tokens to the sink."""
    env = base_env(servers, f"ghe2e-reset-{time.time_ns()}") | {
        "SMTP_URL": smtp_sink.url,
        "SMTP_FROM": "Gatehouse <auth@example.org>",
    }
    stack = Stack(env, tmp_path_factory.mktemp("reset-logs"))
    try:
        yield full_stack(stack)
    finally:
        stack.stop()


@pytest.fixture
async def http(mail_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=mail_stack.url, timeout=15) as client:
        yield client


async def forgot(client: httpx.AsyncClient, email: Any) -> httpx.Response:
    return await client.post("/api/auth/forgot-password", json={"email": email})


async def reset(
    client: httpx.AsyncClient, token: Any, password: Any = NEW_PASSWORD
) -> httpx.Response:
    return await client.post(
        "/api/auth/reset-password", json={"token": token, "newPassword": password}
    )


async def mailed_token(client: httpx.AsyncClient, sink: SmtpSink, username: str) -> str:
    answer = await forgot(client, email_for(username).upper())
    assert answer.status_code == 202, answer.text
    assert answer.json() == FORGOT_BODY
    # Registration also mails the address (its verification link).
    message = await sink.wait_for(email_for(username).lower(), RESET_SUBJECT)
    assert message["From"] == "Gatehouse <auth@example.org>"
    found = TOKEN_IN_MAIL.search(message.get_content())
    assert found, message.get_content()
    return found.group(1)


async def test_a_mailed_token_resets_once_and_ends_every_session(
    http: httpx.AsyncClient, smtp_sink: SmtpSink, unique: Callable[[str], str]
):
    name = unique("forgetful")
    _, session_token = await new_account(http, name)
    token = await mailed_token(http, smtp_sink, name)

    answer = await reset(http, token)

    assert answer.status_code == 200, answer.text
    assert answer.json()["success"] is True
    assert_error(await profile(http, session_token), 401, "invalid_token")
    assert_error(await login(http, name, PASSWORD), 401, "invalid_credentials")
    assert (await login(http, name, NEW_PASSWORD)).status_code == 200
    used = assert_error(await reset(http, token, "yetanother789"), 400, "invalid_reset_token")
    assert used["error"]["details"] == {"reason": "used"}
    assert (await login(http, name, NEW_PASSWORD)).status_code == 200


async def test_a_password_change_invalidates_the_token(
    http: httpx.AsyncClient, smtp_sink: SmtpSink, unique: Callable[[str], str]
):
    name = unique("changer")
    _, session_token = await new_account(http, name)
    token = await mailed_token(http, smtp_sink, name)
    assert (await change_password(http, session_token, PASSWORD, "changed789")).status_code == 200

    refused = assert_error(await reset(http, token), 400, "invalid_reset_token")

    assert refused["error"]["details"] == {"reason": "superseded"}
    assert (await login(http, name, "changed789")).status_code == 200


async def test_an_unknown_email_gets_the_same_answer_and_no_mail(
    http: httpx.AsyncClient, smtp_sink: SmtpSink, unique: Callable[[str], str]
):
    nobody = email_for(unique("nobody")).lower()
    answer = await forgot(http, nobody)
    assert answer.status_code == 202
    assert answer.json() == FORGOT_BODY
    # A known address asked after it: once its mail is here, any for nobody would be too.
    name = unique("marker")
    await new_account(http, name)
    await mailed_token(http, smtp_sink, name)
    assert all(message["To"] != nobody for message in smtp_sink.messages)


async def test_forgot_takes_about_as_long_for_unknown_emails(
    http: httpx.AsyncClient, smtp_sink: SmtpSink, unique: Callable[[str], str]
):
    name = unique("timed")
    await new_account(http, name)

    async def timed(email: str) -> float:
        started = time.perf_counter()
        assert (await forgot(http, email)).status_code == 202
        return time.perf_counter() - started

    known, unknown = [], []
    for _ in range(15):
        known.append(await timed(email_for(name)))
        unknown.append(await timed(email_for(unique("ghost"))))
    ratio = statistics.median(known) / statistics.median(unknown)
    assert 0.5 <= ratio <= 2, (ratio, known, unknown)


async def test_an_expired_token_is_refused(
    stack_factory: Callable[..., Stack], smtp_sink: SmtpSink, unique: Callable[[str], str]
):
    brief = full_stack(
        stack_factory(
            PASSWORD_RESET_EXPIRES_IN="1",
            SMTP_URL=smtp_sink.url,
            SMTP_FROM="Gatehouse <auth@example.org>",
        )
    )
    async with httpx.AsyncClient(base_url=brief.url, timeout=15) as client:
        name = unique("late")
        await new_account(client, name)
        token = await mailed_token(client, smtp_sink, name)
        await asyncio.sleep(1.5)
        refused = assert_error(await reset(client, token), 400, "invalid_reset_token")
        assert refused["error"]["details"] == {"reason": "expired"}
        assert (await login(client, name, PASSWORD)).status_code == 200


async def test_bad_input_is_400_and_leaves_the_token_usable(
    http: httpx.AsyncClient, smtp_sink: SmtpSink, unique: Callable[[str], str]
):
    for email in ("not-an-email", "", None, 42, "x" * 200 + "@example.com"):
        assert_error(await forgot(http, email), 400, "validation_error")
    not_json = await http.post(
        "/api/auth/forgot-password", content=b"nope", headers={"Content-Type": "application/json"}
    )
    assert_error(not_json, 400, "bad_request")
    unknown = assert_error(await reset(http, "x" * 43), 400, "invalid_reset_token")
    assert unknown["error"]["details"] == {"reason": "unknown"}

    name = unique("careful")
    await new_account(http, name)
    token = await mailed_token(http, smtp_sink, name)
    for password in ("short1", "nodigitshere", "1" * 80, None):
        assert_error(await reset(http, token, password), 400, "validation_error")
    assert_error(await reset(http, None), 400, "validation_error")
    assert (await login(http, name, PASSWORD)).status_code == 200
    assert (await reset(http, token)).status_code == 200


async def test_without_smtp_development_logs_the_token(
    client: httpx.AsyncClient, stack: Stack, unique: Callable[[str], str]
):
    name = unique("devlog")
    await new_account(client, name)
    auth = next(p for p in stack.processes if p.service == "auth")
    token = await dev_log_reset_token(client, auth.log, email_for(name))
    assert (await reset(client, token)).status_code == 200


async def test_a_reset_does_not_bypass_the_second_factor(
    http: httpx.AsyncClient, smtp_sink: SmtpSink, unique: Callable[[str], str]
):
    """Recovery of the password is not recovery of the account: with TOTP on, the
    new password alone answers the second-factor challenge, never a token."""
    name, _, enrolled = await enrolled_account(http, unique, "reset_mfa")
    token = await mailed_token(http, smtp_sink, name)

    answer = await reset(http, token)

    assert answer.status_code == 200, answer.text
    assert "token" not in answer.json()
    challenge = (await login(http, name, NEW_PASSWORD)).json()
    assert challenge["mfa_required"] is True
    assert "token" not in challenge
    assert "refresh_token" not in challenge
    finished = await verify(http, challenge["mfa_token"], code=enrolled.app.next_code())
    assert finished.status_code == 200, finished.text
    assert finished.json()["token"]
