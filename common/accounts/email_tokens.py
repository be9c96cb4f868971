"""Emailed tokens that verify an address or confirm a change of it.

The rules of reset tokens (auth_app/reset.py): 256 random bits, stored only as
a hash, valid ``EMAIL_VERIFICATION_EXPIRES_IN``, used once. A new token of a
purpose voids the user's unused ones of that purpose. A "verify" token names
the address it was sent to and is void once the account has another; a
"change" token is the pending change itself: the account keeps its address
until the link sent to the new one is followed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage

import asyncpg

from common.accounts.mail import Outbox
from common.db.queries import Queries
from common.errors import InvalidEmailToken
from common.security.opaque_tokens import new_token, token_hash

VERIFY = "verify"
CHANGE = "change"


def check_email_token(row: asyncpg.Record | None) -> asyncpg.Record:
    """``row`` if it is a usable token; otherwise InvalidEmailToken, naming why."""
    if row is None:
        raise InvalidEmailToken(details={"reason": "unknown"})
    if row["used_at"] is not None:
        raise InvalidEmailToken("This email link was already used", {"reason": "used"})
    if row["expired"]:
        raise InvalidEmailToken("This email link has expired", {"reason": "expired"})
    if row["purpose"] == VERIFY and row["email"].lower() != row["current_email"].lower():
        raise InvalidEmailToken(
            "The account's address changed since this link was sent", {"reason": "superseded"}
        )
    return row


@dataclass(frozen=True, slots=True)
class EmailTokens:
    """Issues tokens on the caller's connection and words the mails that carry them."""

    queries: Queries
    outbox: Outbox
    expires_in: float
    public_url: str

    async def issue(
        self, conn: asyncpg.Connection, *, user_id: int, email: str, purpose: str
    ) -> str:
        """A new token for ``email`` in the caller's transaction; older ones of ``purpose`` void."""
        token = new_token()
        await self.queries.execute(conn, "void_email_tokens", user_id=user_id, purpose=purpose)
        await self.queries.execute(
            conn,
            "insert_email_token",
            token_hash=token_hash(token),
            user_id=user_id,
            purpose=purpose,
            email=email,
            expires_at=datetime.fromtimestamp(time.time() + self.expires_in, UTC),
        )
        return token

    def send_all(self, messages: list[tuple[EmailMessage, str]]) -> None:
        """Hand the messages of a committed transaction to the outbox (``(message, what)``)."""
        for message, what in messages:
            self.outbox.send(message, what)

    def link(self, token: str) -> str:
        # In the fragment: it never reaches a server's access log.
        return f"{self.public_url}/account#verify-email={token}"

    def _lifetime(self) -> str:
        hours = self.expires_in / 3600
        return f"{hours:g} hours" if hours >= 1 else f"{int(self.expires_in // 60)} minutes"

    def verification(self, to: str, token: str) -> EmailMessage:
        return self.outbox.message(
            to=to,
            subject="Confirm your email address for Gatehouse",
            body=(
                "Confirm that this address belongs to your Gatehouse account:\n\n"
                f"{self.link(token)}\n\n"
                f"Your verification token: {token}\n\n"
                f"It works once, for {self._lifetime()}. "
                "If you did not create an account, ignore this message.\n"
            ),
        )

    def change_confirmation(self, to: str, token: str) -> EmailMessage:
        return self.outbox.message(
            to=to,
            subject="Confirm your new email address for Gatehouse",
            body=(
                "Someone asked to move a Gatehouse account to this address. "
                "Follow the link to confirm it:\n\n"
                f"{self.link(token)}\n\n"
                f"Your verification token: {token}\n\n"
                f"It works once, for {self._lifetime()}. Until then the account keeps "
                "its old address. If you did not ask for this, ignore this message.\n"
            ),
        )

    def change_notice(self, to: str, new_email: str) -> EmailMessage:
        return self.outbox.message(
            to=to,
            subject="Your Gatehouse email address is about to change",
            body=(
                f"Someone asked to change the email address of your Gatehouse account to "
                f"{new_email}. The change takes effect only once that address confirms it.\n\n"
                "If this was not you, change your password now: that ends every session.\n"
            ),
        )
