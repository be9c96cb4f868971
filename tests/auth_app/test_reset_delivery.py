"""Reset mails are sent after the commit, retried, and a final failure is logged."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from loguru import logger

from auth_app import reset as reset_module
from auth_app.reset import PasswordReset
from common.accounts.audit import Audit
from common.accounts.sessions import SessionCache, SessionEnder
from common.worker import WorkerContext
from tests.conftest import rpc_request
from tests.e2e.helpers import PASSWORD


class FlakySender:
    """Fails ``failures`` times, then delivers; ``tried`` is set after ``expected`` attempts."""

    def __init__(self, failures: int, expected: int = 1) -> None:
        self.failures = failures
        self.expected = expected
        self.attempts = 0
        self.delivered: list[tuple[str, str]] = []
        self.tried = asyncio.Event()

    async def send(self, *, to: str, token: str, expires_in: float) -> None:
        self.attempts += 1
        if self.attempts >= self.expected:
            self.tried.set()
        if self.attempts <= self.failures:
            raise ConnectionRefusedError("sink down")
        self.delivered.append((to, token))


async def forgot_with(ctx: WorkerContext, sender: FlakySender, unique: Callable[[str], str]) -> str:
    name = unique("flaky")
    email = f"{name}@example.com"
    async with ctx.pool.acquire() as conn:
        await ctx.queries.one(
            conn, "insert_user", username=name, email=email, password_hash=PASSWORD
        )
    audit = Audit(ctx.redis, ctx.keys, ctx.queries)
    service = PasswordReset(
        ctx, audit, SessionEnder(SessionCache(ctx.redis, ctx.keys), audit), sender
    )
    assert await service.forgot({"email": email}, rpc_request("auth.forgot_password", {})) == {}
    return email


async def settle(sender: FlakySender) -> None:
    """Until the expected attempts were made, and the sender's last step has run."""
    await asyncio.wait_for(sender.tried.wait(), 10)
    await asyncio.sleep(0.05)


async def test_a_failed_send_is_retried(
    worker_context: WorkerContext, unique: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(reset_module, "SEND_RETRY_SECONDS", 0.01)
    sender = FlakySender(failures=2, expected=3)
    email = await forgot_with(worker_context, sender, unique)
    await settle(sender)
    assert [to for to, _ in sender.delivered] == [email]
    assert len(sender.delivered[0][1]) == 43


async def test_an_undeliverable_reset_is_logged_as_an_error(
    worker_context: WorkerContext, unique: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(reset_module, "SEND_RETRY_SECONDS", 0.01)
    lines: list[str] = []
    handle = logger.add(lines.append, level="ERROR", format="{message}")
    try:
        sender = FlakySender(failures=99, expected=reset_module.SEND_ATTEMPTS)
        email = await forgot_with(worker_context, sender, unique)
        await settle(sender)
    finally:
        logger.remove(handle)
    assert sender.delivered == []
    assert any(email in line and "not delivered" in line for line in lines)


async def test_an_unknown_email_sends_nothing(
    worker_context: WorkerContext, unique: Callable[[str], str]
):
    sender = FlakySender(failures=0)
    audit = Audit(worker_context.redis, worker_context.keys, worker_context.queries)
    ender = SessionEnder(SessionCache(worker_context.redis, worker_context.keys), audit)
    service = PasswordReset(worker_context, audit, ender, sender)
    params = {"email": f"{unique('ghost')}@example.com"}
    assert await service.forgot(params, rpc_request("auth.forgot_password", {})) == {}
    await asyncio.sleep(0.1)
    assert sender.attempts == 0
