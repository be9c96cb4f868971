"""What apps do with their tokens: UserInfo, revocation (RFC 7009), introspection (RFC 7662).

Every answer reads the grant's liveness from PostgreSQL: a token whose grant
was revoked, or whose Gatehouse session ended, stops counting at once.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from auth_app.oidc.app_tokens import AccessClaims, scope_claims
from auth_app.oidc.base import Provider
from common.accounts.audit import Recorded
from common.db.pool import connection
from common.errors import OAuthError
from common.rpc.message import Request
from common.security.opaque_tokens import token_hash

INACTIVE = {"active": False}


class TokenResources:
    def __init__(self, provider: Provider) -> None:
        self._p = provider

    async def _live_grant(self, claims: AccessClaims) -> asyncpg.Record | None:
        ctx = self._p.ctx
        async with connection(ctx.pool) as conn:
            grant = await ctx.queries.one(conn, "oidc_grant_state", grant_id=claims.grant_id)
        if grant is None or not grant["live"] or grant["client_id"] != claims.client_id:
            return None
        return grant

    async def userinfo(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        try:
            claims = self._p.tokens.verify_access(params["access_token"])
        except OAuthError as error:
            await self._p.refuse(request, "userinfo", error)
        grant = await self._live_grant(claims)
        if grant is None or grant["user_id"] is None:
            await self._p.refuse(
                request,
                "userinfo",
                OAuthError.of(
                    "invalid_token", "The token's grant or session has ended", status=401
                ),
                client_id=claims.client_id,
            )
        if "openid" not in grant["scopes"]:
            await self._p.refuse(
                request,
                "userinfo",
                OAuthError.of("insufficient_scope", "UserInfo needs the openid scope", status=401),
                client_id=claims.client_id,
            )
        ctx = self._p.ctx
        async with connection(ctx.pool) as conn:
            user = await ctx.queries.one(conn, "oidc_user_claims", user_id=grant["user_id"])
        if user is None:
            await self._p.refuse(
                request, "userinfo", OAuthError.of("invalid_token", "No such user", status=401)
            )
        return {"sub": str(user["id"]), **scope_claims(user, grant["scopes"])}

    async def introspect(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        await self._p.authenticate_client(request, "introspect", params)
        token = params["token"]
        if not token:
            await self._p.refuse(
                request,
                "introspect",
                OAuthError.of("invalid_request", "token is required"),
                client_id=params["client_id"],
            )
        if token.count(".") == 2:
            try:
                claims = self._p.tokens.verify_access(token)
            except OAuthError:
                return INACTIVE
            grant = await self._live_grant(claims)
            if grant is None:
                return INACTIVE
            return {
                "active": True,
                "scope": " ".join(claims.scopes),
                "client_id": claims.client_id,
                "sub": claims.subject,
                "exp": claims.expires_at,
                "iat": claims.issued_at,
                "iss": self._p.issuer,
                "aud": self._p.issuer,
                "token_type": "Bearer",
            }
        ctx = self._p.ctx
        async with connection(ctx.pool) as conn:
            row = await ctx.queries.one(
                conn, "oidc_find_refresh_token", token_hash=token_hash(token)
            )
            grant = (
                None
                if row is None
                else await ctx.queries.one(conn, "oidc_grant_state", grant_id=row["grant_id"])
            )
        if row is None or grant is None or row["rotated_at"] is not None or not grant["live"]:
            return INACTIVE
        return {
            "active": True,
            "scope": " ".join(grant["scopes"]),
            "client_id": grant["client_id"],
            "sub": str(grant["user_id"]),
            "iss": self._p.issuer,
            "token_type": "refresh_token",
        }

    async def revoke(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        """Revoke the grant behind a token of the calling client; unknown tokens are no error."""
        client = await self._p.authenticate_client(request, "revoke", params)
        token = params["token"]
        if not token:
            await self._p.refuse(
                request,
                "revoke",
                OAuthError.of("invalid_request", "token is required"),
                client_id=client["id"],
            )
        ctx = self._p.ctx
        grant_id: int | None = None
        if token.count(".") == 2:
            try:
                claims = self._p.tokens.verify_access(token, verify_exp=False)
                grant_id = claims.grant_id if claims.client_id == client["id"] else None
            except OAuthError:
                grant_id = None
        else:
            async with connection(ctx.pool) as conn:
                row = await ctx.queries.one(
                    conn, "oidc_find_refresh_token", token_hash=token_hash(token)
                )
                grant = (
                    None
                    if row is None
                    else await ctx.queries.one(conn, "oidc_grant_state", grant_id=row["grant_id"])
                )
            if grant is not None and grant["client_id"] == client["id"]:
                grant_id = grant["id"]
        if grant_id is None:
            return {}
        recorded = Recorded()
        async with connection(ctx.pool) as conn, conn.transaction():
            revoked = await ctx.queries.value(
                conn, "oidc_revoke_grant", grant_id=grant_id, reason="revoked"
            )
            if revoked is not None:
                await self._p.record(
                    request,
                    "oauth.grant_revoked",
                    user_id=None,
                    data={"grant_id": grant_id, "client_id": client["id"], "reason": "revoked"},
                    conn=conn,
                    into=recorded,
                )
        await self._p.audit.publish(recorded)
        return {}
