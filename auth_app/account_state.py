"""Whether an account may get tokens now: not disabled, and verified when required.

Called by every way into a session (login today, ``SignIn.complete`` later)
and by refresh, inside the transaction that issues the tokens. The account's
row is read afresh and locked (FOR NO KEY UPDATE, the lock the transaction's
own last_login_at update takes, so no upgrade can deadlock), so a disable
committing meanwhile either comes first (and this refuses) or waits for the
session this transaction makes (and then ends it).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from common.errors import AccountDisabled, EmailNotVerified, InvalidToken
from common.worker import WorkerContext


async def check_account_state(ctx: WorkerContext, conn: asyncpg.Connection, user_row: Any) -> None:
    """Raise AccountDisabled or EmailNotVerified (``REQUIRE_VERIFIED_EMAIL``), else return.

    ``user_row`` needs only its ``id``: the state is read on ``conn``.
    """
    state = await ctx.queries.one(conn, "get_account_state", user_id=user_row["id"])
    if state is None:
        raise InvalidToken("The account no longer exists")
    if state["disabled_at"] is not None:
        raise AccountDisabled()
    if ctx.settings.auth.require_verified_email and state["email_verified_at"] is None:
        raise EmailNotVerified()
