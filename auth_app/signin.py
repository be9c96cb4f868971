"""Where every way of proving who you are ends: the minimal version of the shared contract.

The mfa branch owns this module (account state hook, second-factor policy,
session start); this version, written to exactly the interface of the
contract the issue 12 and 13 branches share, only refuses a disabled account
and starts the session with its ``amr``. It is replaced by the mfa branch's
at merge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
from loguru import logger

from auth_app.mfa.pending import PendingLogins
from auth_app.refresh import SessionTokens, public_user
from common.accounts.audit import Audit, Recorded
from common.db.pool import connection
from common.errors import AccountDisabled
from common.rpc.message import Request
from common.worker import WorkerContext


class SignIn:
    def __init__(
        self, ctx: WorkerContext, tokens: SessionTokens, audit: Audit, pending: PendingLogins
    ) -> None:
        self._ctx = ctx
        self._tokens = tokens
        self._audit = audit
        # The real version begins pending logins (the second-factor policy); this one does not.
        self._pending = pending

    async def complete(
        self, request: Request, user_row: asyncpg.Record, *, amr: Sequence[str]
    ) -> dict[str, Any]:
        """Start a session for ``user_row`` proven by ``amr``; answer what login answers."""
        ctx = self._ctx
        if user_row["disabled_at"] is not None:
            raise AccountDisabled()
        recorded = Recorded()
        async with connection(ctx.pool) as conn, conn.transaction():
            issued = await self._tokens.start(conn, request, user_row, into=recorded)
            await ctx.queries.execute(
                conn, "signin_set_session_amr", session_id=issued.session_id, amr=list(amr)
            )
            await ctx.queries.execute(conn, "signin_touch_last_login", user_id=user_row["id"])
        await self._tokens.mirror_live(issued.session_id, user_row["id"], issued.session_expires)
        await self._audit.publish(recorded)
        logger.info(
            "user {} signed in ({}), session {}", user_row["id"], ",".join(amr), issued.session_id
        )
        return issued.answer(public_user(user_row))
