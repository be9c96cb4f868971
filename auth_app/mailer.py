"""Where password reset tokens go: an SMTP server, or the development log.

``SMTP_URL`` selects SMTP (``smtp://`` upgrades with STARTTLS when the server
offers it, ``smtps://`` is TLS from the first byte). Without it, development
writes the token to the log: the one place Gatehouse ever logs a secret, and
only where there is no mail server to send it to. Production without
``SMTP_URL`` logs that a reset was asked for, never the token.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

from loguru import logger

from common.accounts.mail import SmtpTransport
from common.config import Settings


class ResetSender(Protocol):
    async def send(self, *, to: str, token: str, expires_in: float) -> None: ...


def reset_message(*, sender: str, to: str, token: str, expires_in: float) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "Reset your Gatehouse password"
    message.set_content(
        "Someone asked to reset the password of your Gatehouse account.\n\n"
        f"Your reset token: {token}\n\n"
        f"It works once, for {int(expires_in // 60)} minutes, and stops working as soon as "
        "your password changes. If you did not ask for it, ignore this message.\n"
    )
    return message


class SmtpSender:
    def __init__(self, url: str, sender: str) -> None:
        self._transport = SmtpTransport(url)
        self._sender = sender

    async def send(self, *, to: str, token: str, expires_in: float) -> None:
        await self._transport.deliver(
            reset_message(sender=self._sender, to=to, token=token, expires_in=expires_in)
        )


class DevelopmentLogSender:
    async def send(self, *, to: str, token: str, expires_in: float) -> None:
        logger.warning("DEVELOPMENT ONLY (no SMTP_URL): password reset token for {}: {}", to, token)


class UnconfiguredSender:
    async def send(self, *, to: str, token: str, expires_in: float) -> None:
        logger.error("password reset asked for {}, but SMTP_URL is not set: nothing sent", to)


def sender_for(settings: Settings) -> ResetSender:
    if settings.auth.smtp_url:
        return SmtpSender(settings.auth.smtp_url, settings.auth.smtp_from)
    if settings.is_production:
        return UnconfiguredSender()
    return DevelopmentLogSender()
