"""``POST /oauth/token``: authorization_code (PKCE), refresh_token, client_credentials.

Codes are single use: the first exchange spends the code and records the grant
it made; any later presentation revokes that grant, and with it every token
issued from the code (RFC 6749 4.1.2, OAuth 2.1 4.1.3). Refresh tokens rotate
on every use; a rotated token presented again within REFRESH_REUSE_INTERVAL
gets the same successor (retries, races), later it revokes the grant, as
auth_app/refresh.py does for Gatehouse's own sessions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from typing import Any

import asyncpg

from auth_app.oidc.base import Provider
from common import json_codec
from common.accounts.oidc_clients import USER_SCOPES
from common.db.pool import connection
from common.errors import OAuthError
from common.rpc.message import Request
from common.security.opaque_tokens import new_token, token_hash
from common.security.sealing import SealBroken, seal_for_token, unseal_for_token

ENDPOINT = "token"
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
# RFC 7636 4.1: 43 to 128 unreserved characters.
_VERIFIER = re.compile(r"\A[A-Za-z0-9._~-]{43,128}\Z")


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class TokenEndpoint:
    def __init__(self, provider: Provider) -> None:
        self._p = provider

    async def token(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        if params["duplicates"]:
            await self._p.refuse(
                request,
                ENDPOINT,
                OAuthError.of(
                    "invalid_request", f"Parameter given twice: {params['duplicates'][0]}"
                ),
                client_id=params["client_id"],
            )
        grant_type = params["grant_type"]
        if grant_type not in GRANT_TYPES:
            await self._p.refuse(
                request,
                ENDPOINT,
                OAuthError.of(
                    "unsupported_grant_type" if grant_type else "invalid_request",
                    f"grant_type must be one of {', '.join(GRANT_TYPES)}",
                ),
                client_id=params["client_id"],
            )
        client = await self._p.authenticate_client(request, ENDPOINT, params)
        try:
            if grant_type == "authorization_code":
                return await self._code(params, request, client)
            if grant_type == "refresh_token":
                return await self._refresh(params, request, client)
            return await self._client_credentials(params, request, client)
        except OAuthError as error:
            await self._p.refuse(request, ENDPOINT, error, client_id=client["id"])

    async def _code(
        self, params: dict[str, Any], request: Request, client: asyncpg.Record
    ) -> dict[str, Any]:
        ctx = self._p.ctx
        code, verifier = params["authorization_code"], params["code_verifier"]
        if not code:
            raise OAuthError.of("invalid_request", "code is required")
        if not verifier:
            raise OAuthError.of("invalid_request", "code_verifier is required (PKCE)")
        reused_grant: int | None = None
        problem: OAuthError | None = None
        answer: dict[str, Any] | None = None
        async with connection(ctx.pool) as conn, conn.transaction():
            row = await ctx.queries.one(conn, "oidc_lock_code", code_hash=token_hash(code))
            if row is None or row["client_id"] != client["id"]:
                problem = OAuthError.of("invalid_grant", "Unknown authorization code")
            elif row["used_at"] is not None:
                reused_grant = row["grant_id"]
                if reused_grant is not None:
                    await ctx.queries.value(
                        conn, "oidc_revoke_grant", grant_id=reused_grant, reason="code_reuse"
                    )
                problem = OAuthError.of(
                    "invalid_grant", "Authorization code already used; its tokens are revoked"
                )
            else:
                # Spent by this attempt whatever follows: a code is never tried twice.
                await ctx.queries.execute(
                    conn, "oidc_spend_code", code_hash=row["code_hash"], grant_id=None
                )
                problem = self._code_problem(row, params)
                if problem is None:
                    session = await ctx.queries.one(
                        conn,
                        "oidc_live_session",
                        session_id=row["session_id"],
                        user_id=row["user_id"],
                    )
                    if session is None:
                        problem = OAuthError.of("invalid_grant", "The sign-in session has ended")
                    else:
                        answer = await self._grant(
                            conn,
                            client,
                            user_id=row["user_id"],
                            session=session,
                            scopes=list(row["scopes"]),
                            nonce=row["nonce"],
                        )
                        await ctx.queries.execute(
                            conn,
                            "oidc_spend_code",
                            code_hash=row["code_hash"],
                            grant_id=answer.pop("_grant_id"),
                        )
        if reused_grant is not None:
            await self._p.record(
                request,
                "oauth.grant_revoked",
                user_id=None,
                data={"grant_id": reused_grant, "client_id": client["id"], "reason": "code_reuse"},
            )
        if problem is not None:
            raise problem
        assert answer is not None
        await self._issued(request, client, answer, "authorization_code")
        return answer

    @staticmethod
    def _code_problem(row: asyncpg.Record, params: dict[str, Any]) -> OAuthError | None:
        if not row["fresh"]:
            return OAuthError.of("invalid_grant", "Authorization code expired")
        if params["redirect_uri"] != row["redirect_uri"]:
            return OAuthError.of(
                "invalid_grant", "redirect_uri differs from the authorization request"
            )
        verifier = params["code_verifier"]
        if not _VERIFIER.match(verifier):
            return OAuthError.of("invalid_grant", "code_verifier is malformed (RFC 7636 4.1)")
        if not hmac.compare_digest(s256(verifier), row["code_challenge"]):
            return OAuthError.of("invalid_grant", "code_verifier does not match code_challenge")
        return None

    async def _grant(
        self,
        conn: asyncpg.Connection,
        client: asyncpg.Record,
        *,
        user_id: int,
        session: asyncpg.Record,
        scopes: list[str],
        nonce: str | None,
    ) -> dict[str, Any]:
        ctx = self._p.ctx
        grant_id = await ctx.queries.value(
            conn,
            "oidc_insert_grant",
            client_id=client["id"],
            user_id=user_id,
            session_id=session["session_id"],
            scopes=scopes,
            nonce=nonce,
        )
        answer = await self._tokens(conn, client, grant_id, user_id, session, scopes, nonce)
        return answer | {"_grant_id": grant_id}

    async def _tokens(
        self,
        conn: asyncpg.Connection,
        client: asyncpg.Record,
        grant_id: int,
        user_id: int,
        session: asyncpg.Record,
        scopes: list[str],
        nonce: str | None,
    ) -> dict[str, Any]:
        ctx, tokens = self._p.ctx, self._p.tokens
        answer: dict[str, Any] = {
            "access_token": tokens.access_token(
                grant_id=grant_id, client_id=client["id"], subject=str(user_id), scopes=scopes
            ),
            "token_type": "Bearer",
            "expires_in": tokens.expires_in,
            "expires_at": int(time.time()) + tokens.expires_in,
            "scope": " ".join(scopes),
        }
        if "openid" in scopes:
            user = await ctx.queries.one(conn, "oidc_user_claims", user_id=user_id)
            if user is None:
                raise OAuthError.of("invalid_grant", "The user no longer exists")
            answer["id_token"] = tokens.id_token(
                user=user, client_id=client["id"], scopes=scopes, nonce=nonce, session=session
            )
        if "offline_access" in scopes:
            refresh = new_token()
            await ctx.queries.execute(
                conn, "oidc_insert_refresh_token", token_hash=token_hash(refresh), grant_id=grant_id
            )
            answer["refresh_token"] = refresh
        return answer

    async def _refresh(
        self, params: dict[str, Any], request: Request, client: asyncpg.Record
    ) -> dict[str, Any]:
        ctx = self._p.ctx
        presented = params["refresh_token"]
        if not presented:
            raise OAuthError.of("invalid_request", "refresh_token is required")
        reused: int | None = None
        answer: dict[str, Any] | None = None
        async with connection(ctx.pool) as conn, conn.transaction():
            row = await ctx.queries.one(
                conn,
                "oidc_lock_refresh_token",
                token_hash=token_hash(presented),
                reuse_interval=ctx.settings.auth.refresh_reuse_interval,
            )
            grant = (
                None
                if row is None
                else await ctx.queries.one(conn, "oidc_grant_state", grant_id=row["grant_id"])
            )
            if row is None or grant is None or grant["client_id"] != client["id"]:
                raise OAuthError.of("invalid_grant", "Unknown refresh token")
            if not grant["live"]:
                raise OAuthError.of("invalid_grant", "The grant has ended (logout or revocation)")
            if params["scope"] and not set(params["scope"].split()) <= set(grant["scopes"]):
                raise OAuthError.of("invalid_scope", "A refresh cannot widen the granted scope")
            if row["rotated_at"] is None:
                answer = await self._tokens(
                    conn,
                    client,
                    grant["id"],
                    grant["user_id"],
                    grant,
                    list(grant["scopes"]),
                    grant["nonce"],
                )
                await ctx.queries.execute(
                    conn,
                    "oidc_rotate_refresh_token",
                    token_hash=token_hash(presented),
                    sealed_successor=seal_for_token(
                        presented, json_codec.dumps(answer), bound_to=_sealed_place(presented)
                    ),
                )
            elif row["within_reuse_interval"]:
                answer = _successor(presented, row["sealed_successor"])
            else:
                await ctx.queries.value(
                    conn, "oidc_revoke_grant", grant_id=grant["id"], reason="refresh_reuse"
                )
                reused = grant["id"]
        if reused is not None:
            await self._p.record(
                request,
                "oauth.grant_revoked",
                user_id=None,
                data={"grant_id": reused, "client_id": client["id"], "reason": "refresh_reuse"},
            )
            raise OAuthError.of("invalid_grant", "Refresh token already used; the grant is revoked")
        assert answer is not None
        await self._issued(request, client, answer, "refresh_token")
        return answer

    async def _client_credentials(
        self, params: dict[str, Any], request: Request, client: asyncpg.Record
    ) -> dict[str, Any]:
        ctx = self._p.ctx
        if client["secret_hash"] is None:
            raise OAuthError.of(
                "unauthorized_client", "A public client cannot use client_credentials"
            )
        allowed = [s for s in client["scopes"] if s not in USER_SCOPES]
        requested = params["scope"].split() if params["scope"] else allowed
        refused = [s for s in requested if s not in allowed]
        if refused:
            raise OAuthError.of(
                "invalid_scope", f"Scope not available to this client: {refused[0]}"
            )
        async with connection(ctx.pool) as conn:
            grant_id = await ctx.queries.value(
                conn,
                "oidc_insert_grant",
                client_id=client["id"],
                user_id=None,
                session_id=None,
                scopes=requested,
                nonce=None,
            )
        tokens = self._p.tokens
        answer = {
            "access_token": tokens.access_token(
                grant_id=grant_id, client_id=client["id"], subject=client["id"], scopes=requested
            ),
            "token_type": "Bearer",
            "expires_in": tokens.expires_in,
            "scope": " ".join(requested),
        }
        await self._issued(request, client, answer, "client_credentials")
        return answer

    async def _issued(
        self, request: Request, client: asyncpg.Record, answer: dict[str, Any], grant_type: str
    ) -> None:
        await self._p.record(
            request,
            "oauth.tokens_issued",
            user_id=None,
            data={
                "client_id": client["id"],
                "grant_type": grant_type,
                "scope": answer.get("scope"),
            },
        )


def _sealed_place(presented: str) -> bytes:
    """What a successor is bound to: this refresh token's row, of the provider's table."""
    return b"oidc:" + token_hash(presented).encode()


def _successor(presented: str, sealed: bytes | None) -> dict[str, Any]:
    """The answer a refresh token rotated to; a value that does not open (altered in
    the database) fails closed: invalid_grant, and the grant is left as it is."""
    try:
        opened = unseal_for_token(presented, sealed or b"", bound_to=_sealed_place(presented))
    except SealBroken:
        raise OAuthError.of("invalid_grant", "Refresh token already used") from None
    answer = dict(json_codec.loads(opened))
    answer["expires_in"] = max(0, answer["expires_at"] - int(time.time()))
    return answer
