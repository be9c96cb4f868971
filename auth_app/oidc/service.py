"""The provider's RPC methods, in one table that auth_app/service.py merges.

The client registry methods require the ``admin`` role, read from
``user_roles`` by ``require_admin`` (one small function, so that the roles
work's own check can replace it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auth_app.oidc.app_tokens import AppTokens
from auth_app.oidc.authorize import Authorization
from auth_app.oidc.base import Provider
from auth_app.oidc.resources import TokenResources
from auth_app.oidc.token import TokenEndpoint
from common.accounts import oidc_clients as registry
from common.accounts import oidc_schemas as schemas
from common.accounts.audit import Audit, Recorded
from common.accounts.sessions import SessionEnder
from common.db.pool import connection
from common.errors import Forbidden, NotFound
from common.rpc.message import Request
from common.rpc.server import Method
from common.worker import WorkerContext

ADMIN_ROLE = "admin"


class OidcService:
    def __init__(self, ctx: WorkerContext, audit: Audit, ender: SessionEnder) -> None:
        self._p = Provider(ctx, audit, ender, AppTokens(ctx.settings))
        self._authorization = Authorization(self._p)
        self._token = TokenEndpoint(self._p)
        self._resources = TokenResources(self._p)

    def methods(self) -> Mapping[str, Method]:
        a, r = self._authorization, self._resources
        return {
            "auth.oidc_authorize": Method(a.authorize, schemas.AuthorizeParams()),
            "auth.oidc_pending": Method(a.pending, schemas.PendingParams()),
            "auth.oidc_attach": Method(a.attach, schemas.AttachParams()),
            "auth.oidc_consent": Method(a.consent, schemas.ConsentParams()),
            "auth.oidc_end_session": Method(a.end_session, schemas.EndSessionParams()),
            "auth.oidc_token": Method(self._token.token, schemas.TokenParams()),
            "auth.oidc_userinfo": Method(r.userinfo, schemas.UserInfoParams()),
            "auth.oidc_introspect": Method(r.introspect, schemas.TokenUseParams()),
            "auth.oidc_revoke": Method(r.revoke, schemas.TokenUseParams()),
            "auth.oidc_refused": Method(self.refused, schemas.RefusalParams()),
            "auth.oidc_apps": Method(self.apps, schemas.AdminParams()),
            "auth.oidc_forget_app": Method(self.forget_app, schemas.ClientIdParams()),
            "auth.oidc_clients": Method(self.list_clients, schemas.AdminParams()),
            "auth.oidc_client": Method(self.show_client, schemas.ClientIdParams()),
            "auth.oidc_add_client": Method(self.add_client, schemas.NewClientParams()),
            "auth.oidc_rotate_client": Method(self.rotate_client, schemas.ClientIdParams()),
            "auth.oidc_remove_client": Method(self.remove_client, schemas.ClientIdParams()),
        }

    async def refused(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        """Audit a refusal the gateway decided alone (the wrong media type)."""
        data = {k: params[k] for k in ("endpoint", "error", "description")}
        await self._p.record(request, "oauth.refused", user_id=None, data=data)
        return {}

    # The account page: the apps the caller consented to, and withdrawing one.

    async def apps(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx = self._p.ctx
        async with connection(ctx.pool) as conn:
            rows = await ctx.queries.many(conn, "oidc_user_consents", user_id=params["user_id"])
        return {
            "apps": [
                {
                    "client_id": row["client_id"],
                    "name": row["name"],
                    "scopes": list(row["scopes"]),
                    "granted_at": row["granted_at"].isoformat(),
                }
                for row in rows
            ]
        }

    async def forget_app(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        """Withdraw consent; every token the app holds for the caller ends with it."""
        ctx = self._p.ctx
        user_id, client_id = params["user_id"], params["client_id"]
        recorded = Recorded()
        async with connection(ctx.pool) as conn, conn.transaction():
            if (
                await ctx.queries.value(
                    conn, "oidc_delete_consent", user_id=user_id, client_id=client_id
                )
                is None
            ):
                raise NotFound("No consent for this app")
            revoked = await ctx.queries.value(
                conn, "oidc_revoke_user_client_grants", user_id=user_id, client_id=client_id
            )
            await self._p.record(
                request,
                "oauth.consent_revoked",
                user_id=user_id,
                data={"client_id": client_id, "grants_revoked": revoked},
                conn=conn,
                into=recorded,
            )
        await self._p.audit.publish(recorded)
        return {}

    # The client registry (role admin).

    async def require_admin(self, params: dict[str, Any]) -> None:
        ctx = self._p.ctx
        async with connection(ctx.pool) as conn:
            if not await ctx.queries.value(
                conn, "oidc_has_role", user_id=params["user_id"], role=ADMIN_ROLE
            ):
                raise Forbidden("The admin role is required")

    async def list_clients(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        await self.require_admin(params)
        ctx = self._p.ctx
        async with connection(ctx.pool) as conn:
            rows = await ctx.queries.many(conn, "oidc_list_clients")
        return {"clients": [registry.public_client(row) for row in rows]}

    async def show_client(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        await self.require_admin(params)
        ctx = self._p.ctx
        async with connection(ctx.pool) as conn:
            row = await registry.get_client(conn, ctx.queries, params["client_id"])
        return {"client": registry.public_client(row)}

    async def add_client(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        await self.require_admin(params)
        ctx = self._p.ctx
        recorded = Recorded()
        async with connection(ctx.pool) as conn, conn.transaction():
            made = await registry.add_client(
                conn,
                ctx.queries,
                name=params["name"],
                redirect_uris=params["redirect_uris"],
                post_logout_redirect_uris=params["post_logout_redirect_uris"],
                scopes=params["scopes"],
                public=params["public"],
            )
            row = await registry.get_client(conn, ctx.queries, made.client_id)
            await self._p.record(
                request,
                "oauth.client_created",
                user_id=params["user_id"],
                data={"client_id": made.client_id},
                conn=conn,
                into=recorded,
            )
        await self._p.audit.publish(recorded)
        return {"client": registry.public_client(row), "client_secret": made.client_secret}

    async def rotate_client(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        await self.require_admin(params)
        ctx = self._p.ctx
        recorded = Recorded()
        async with connection(ctx.pool) as conn, conn.transaction():
            secret = await registry.rotate_secret(conn, ctx.queries, params["client_id"])
            await self._p.record(
                request,
                "oauth.client_secret_rotated",
                user_id=params["user_id"],
                data={"client_id": params["client_id"]},
                conn=conn,
                into=recorded,
            )
        await self._p.audit.publish(recorded)
        return {"client_id": params["client_id"], "client_secret": secret}

    async def remove_client(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        await self.require_admin(params)
        ctx = self._p.ctx
        recorded = Recorded()
        async with connection(ctx.pool) as conn, conn.transaction():
            await registry.remove_client(conn, ctx.queries, params["client_id"])
            await self._p.record(
                request,
                "oauth.client_removed",
                user_id=params["user_id"],
                data={"client_id": params["client_id"]},
                conn=conn,
                into=recorded,
            )
        await self._p.audit.publish(recorded)
        return {}
