"""Reset token senders: SMTP to a real local server, and the development log."""

from __future__ import annotations

import aiosmtplib
import pytest
from loguru import logger

from auth_app.mailer import (
    DevelopmentLogSender,
    SmtpSender,
    UnconfiguredSender,
    sender_for,
)
from common.config import Settings
from tests.conftest import SmtpSink


async def test_smtp_sender_delivers_the_token(smtp_sink: SmtpSink):
    sender = SmtpSender(smtp_sink.url, "Gatehouse <auth@example.org>")

    await sender.send(to="ada@example.com", token="the-token-123", expires_in=1800)

    message = await smtp_sink.wait_for("ada@example.com")
    assert message["From"] == "Gatehouse <auth@example.org>"
    assert "Your reset token: the-token-123" in message.get_content()
    assert "30 minutes" in message.get_content()


async def test_smtp_sender_fails_loudly_when_the_server_is_down():
    from tests.e2e.stack import free_port

    sender = SmtpSender(f"smtp://127.0.0.1:{free_port()}", "x@example.org")
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await sender.send(to="ada@example.com", token="t", expires_in=60)


def capture_logs() -> tuple[list[str], int]:
    lines: list[str] = []
    return lines, logger.add(lines.append, format="{message}")


async def test_only_development_without_smtp_logs_the_token():
    lines, handle = capture_logs()
    try:
        await DevelopmentLogSender().send(to="a@example.com", token="dev-token", expires_in=60)
        await UnconfiguredSender().send(to="b@example.com", token="prod-token", expires_in=60)
    finally:
        logger.remove(handle)
    assert any("dev-token" in line for line in lines)
    assert not any("prod-token" in line for line in lines)


@pytest.mark.parametrize(
    ("env", "kind"),
    [
        ({}, DevelopmentLogSender),
        (
            {"APP_ENV": "production", "JWT_SECRET": "Zq7-Lm2_Vx9pRt4kWc8nYb3hJd6fGs5a"},
            UnconfiguredSender,
        ),
        ({"SMTP_URL": "smtps://u:p@mail.example.org"}, SmtpSender),
    ],
)
def test_sender_for_picks_by_configuration(env: dict[str, str], kind: type) -> None:
    assert isinstance(sender_for(Settings.from_env(env)), kind)
