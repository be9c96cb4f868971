"""Outgoing mail for account messages (verification links, change notices).

The same three ways as reset tokens (auth_app/mailer.py): SMTP when
``SMTP_URL`` is set, the development log otherwise, and in production without
SMTP an error line that names the recipient but never the message. ``Outbox``
sends in the background after the caller's transaction has committed, with
retries, so that mail never slows down or fails the request that caused it.
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib
from loguru import logger

from common.config import Settings

SEND_ATTEMPTS = 3
SEND_RETRY_SECONDS = 2.0
SMTP_TIMEOUT_SECONDS = 10.0
DEFAULT_SMTP_PORTS = {"smtp": 587, "smtps": 465}
# aiosmtplib's errors are all OSError or ValueError subclasses.
SEND_ERRORS = (OSError, TimeoutError, ValueError)


class Transport(Protocol):
    async def deliver(self, message: EmailMessage) -> None: ...


class SmtpTransport:
    """``smtp://`` (STARTTLS when the server offers it) or ``smtps://`` (TLS from the start)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._implicit_tls = parts.scheme == "smtps"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or DEFAULT_SMTP_PORTS[parts.scheme]
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None

    async def deliver(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            use_tls=self._implicit_tls,
            # None: STARTTLS when the server offers it (aiosmtplib's default).
            start_tls=None if not self._implicit_tls else False,
            timeout=SMTP_TIMEOUT_SECONDS,
        )


class DevelopmentLogTransport:
    async def deliver(self, message: EmailMessage) -> None:
        logger.warning(
            "DEVELOPMENT ONLY (no SMTP_URL): mail to {}: {}\n{}",
            message["To"],
            message["Subject"],
            message.get_content(),
        )


class UnconfiguredTransport:
    async def deliver(self, message: EmailMessage) -> None:
        logger.error("mail to {} not sent: SMTP_URL is not set", message["To"])


def transport_for(settings: Settings) -> Transport:
    if settings.auth.smtp_url:
        return SmtpTransport(settings.auth.smtp_url)
    if settings.is_production:
        return UnconfiguredTransport()
    return DevelopmentLogTransport()


class Outbox:
    """Messages sent off the request's path: call ``send`` after the commit."""

    def __init__(self, settings: Settings, transport: Transport | None = None) -> None:
        self.sender = settings.auth.smtp_from
        self._transport = transport or transport_for(settings)
        # Strong references: the loop keeps only weak ones to running tasks.
        self._sending: set[asyncio.Task[None]] = set()

    def message(self, *, to: str, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        return message

    def send(self, message: EmailMessage, what: str) -> None:
        """Deliver ``message`` in the background; ``what`` names it in the log."""
        task = asyncio.create_task(self._deliver(message, what))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _deliver(self, message: EmailMessage, what: str) -> None:
        to = message["To"]
        try:
            for attempt in range(1, SEND_ATTEMPTS + 1):
                try:
                    await self._transport.deliver(message)
                    logger.info("{} sent to {}", what, to)
                    return
                except SEND_ERRORS as exc:
                    logger.warning("sending {} (attempt {}) failed: {}", what, attempt, exc)
                    await asyncio.sleep(SEND_RETRY_SECONDS * attempt)
            logger.error("{} for {} not delivered after {} attempts", what, to, SEND_ATTEMPTS)
        except asyncio.CancelledError:
            logger.error("{} for {} not delivered: the worker stopped", what, to)
            raise
