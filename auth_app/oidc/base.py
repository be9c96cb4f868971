"""What every part of the provider shares: the worker's context, the audit
trail, the app tokens, client authentication, and audited refusals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NoReturn

import asyncpg
from loguru import logger

from auth_app.oidc.app_tokens import AppTokens
from common.accounts.audit import Audit, Recorded
from common.accounts.oidc_clients import secret_matches
from common.accounts.sessions import SessionEnder
from common.db.pool import connection
from common.errors import OAuthError
from common.rpc.message import Request
from common.worker import WorkerContext


@dataclass(frozen=True, slots=True)
class Provider:
    ctx: WorkerContext
    audit: Audit
    ender: SessionEnder
    tokens: AppTokens

    @property
    def issuer(self) -> str:
        return self.tokens.issuer

    async def record(
        self,
        request: Request,
        event_type: str,
        *,
        user_id: int | None,
        data: dict[str, Any],
        conn: asyncpg.Connection | None = None,
        into: Recorded | None = None,
    ) -> None:
        """One audit event. With ``conn`` (and ``into``), in the caller's
        transaction: the caller publishes ``into`` once it has committed.
        Without, in a transaction of its own, published at once."""
        if conn is not None and into is not None:
            await self.audit.record(
                conn, request, event_type, user_id=user_id, data=data, into=into
            )
            return
        recorded = Recorded()
        async with connection(self.ctx.pool) as own, own.transaction():
            await self.audit.record(
                own, request, event_type, user_id=user_id, data=data, into=recorded
            )
        await self.audit.publish(recorded)

    async def refuse(
        self,
        request: Request,
        endpoint: str,
        error: OAuthError,
        *,
        client_id: str | None = None,
        user_id: int | None = None,
    ) -> NoReturn:
        """Audit ``error`` (oauth.refused), then raise it."""
        await self.refused(request, endpoint, error, client_id=client_id, user_id=user_id)
        raise error

    async def refused(
        self,
        request: Request,
        endpoint: str,
        error: OAuthError,
        *,
        client_id: str | None = None,
        user_id: int | None = None,
    ) -> None:
        """Audit ``error`` (oauth.refused) for an answer that is not raised (a page, a redirect)."""
        logger.info("oauth {} refused: {} ({})", endpoint, error.error, error.message)
        data = {"endpoint": endpoint, "error": error.error, "description": error.message}
        if client_id is not None:
            data["client_id"] = client_id[:256]
        await self.record(request, "oauth.refused", user_id=user_id, data=data)

    async def authenticate_client(
        self, request: Request, endpoint: str, params: dict[str, Any]
    ) -> asyncpg.Record:
        """The client the request authenticated as (RFC 6749 2.3); invalid_client otherwise.

        A confidential client must prove its secret (basic or post); a public
        client sends its id only ("none"), and PKCE stands in for the secret.
        """
        client_id, method = params["client_id"], params["auth_method"]
        ctx = self.ctx
        row = None
        if client_id:
            async with connection(ctx.pool) as conn:
                row = await ctx.queries.one(conn, "oidc_get_client", client_id=client_id)
        status = 401
        problem: str | None
        if row is None:
            problem = "Unknown client"
        elif row["secret_hash"] is None:
            problem = None if method == "none" else "A public client has no secret to send"
        elif method == "none":
            problem = "This client must authenticate (client_secret_basic or client_secret_post)"
        elif not secret_matches(row, params["client_secret"] or ""):
            problem = "Client authentication failed"
        else:
            problem = None
        if problem is not None or row is None:
            await self.refuse(
                request,
                endpoint,
                OAuthError.of("invalid_client", problem or "Unknown client", status=status),
                client_id=client_id,
            )
        return row
