"""Auth methods: login, change password (ending every session), session checks.

Refresh, session management and password reset live in their own modules
(refresh.py, sessions.py, reset.py); this class puts them in one table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg
from loguru import logger
from prometheus_client import Counter
from redis.exceptions import RedisError

from auth_app.account_state import check_account_state
from auth_app.admin import AuthAdmin
from auth_app.mfa.methods import mfa_methods
from auth_app.mfa.pending import PendingLogins
from auth_app.oidc.service import OidcService
from auth_app.passkeys.ceremonies import Ceremonies
from auth_app.passkeys.credentials import PasskeyCredentials
from auth_app.passkeys.login import PasskeySignIn
from auth_app.refresh import SessionTokens
from auth_app.reset import PasswordReset
from auth_app.sessions import SessionManagement
from auth_app.signin import SignIn
from auth_app.throttle import LoginThrottle, account_subject
from common.accounts.audit import Audit, Recorded
from common.accounts.credentials import verify_own_password
from common.accounts.schemas import (
    AuditParams,
    ChangePasswordParams,
    EndSessionParams,
    ForgotPasswordParams,
    LoginParams,
    LogoutParams,
    ProfileParams,
    RefreshParams,
    ResetPasswordParams,
    SessionParams,
)
from common.accounts.sessions import SessionCache, SessionEnder
from common.accounts.webauthn_schemas import (
    DeletePasskeyParams,
    PasskeyLoginOptionsParams,
    PasskeyLoginParams,
    PasskeyOwnerParams,
    RegisterPasskeyParams,
)
from common.db.idempotency import run_once
from common.db.pool import connection
from common.errors import InvalidCredentials, RateLimited
from common.rpc.message import Request
from common.rpc.server import Method
from common.security.opaque_tokens import token_hash
from common.worker import WorkerContext


class AuthService:
    def __init__(self, ctx: WorkerContext) -> None:
        self._ctx = ctx
        self._sessions = SessionCache(ctx.redis, ctx.keys, ctx.replicas)
        self._audit = Audit(ctx.redis, ctx.keys, ctx.queries)
        self._ender = SessionEnder(self._sessions, self._audit)
        self._tokens = SessionTokens(ctx, self._audit, self._sessions)
        self._management = SessionManagement(ctx, self._audit, self._ender)
        self._reset = PasswordReset(ctx, self._audit, self._ender)
        self._admin = AuthAdmin(ctx, self._audit, self._ender)
        self._throttle = LoginThrottle(
            ctx.redis, ctx.keys, ctx.settings.limits.login_throttle, ctx.replicas
        )
        # Every way of signing in ends in SignIn.complete (account state, second
        # factors, session, last login).
        pending = PendingLogins(ctx.redis, ctx.keys, ctx.settings.mfa.token_expires_in)
        self._signin = SignIn(
            ctx, self._tokens, self._audit, pending, account_check=check_account_state
        )
        self._mfa = mfa_methods(ctx, self._audit, self._ender, self._signin)
        self._throttled = Counter(
            "gatehouse_login_throttled",
            "Logins refused by the failed-login throttle (account, client address or both).",
            registry=ctx.metrics.registry,
        )
        # Passkeys: a first factor of their own, and a second one for a pending login.
        ceremonies = Ceremonies(ctx.redis, ctx.keys, ctx.settings.webauthn.challenge_ttl)
        self._passkeys = PasskeyCredentials(ctx, self._audit, ceremonies)
        self._passkey_signin = PasskeySignIn(ctx, self._audit, ceremonies, self._signin, pending)

    def methods(self) -> Mapping[str, Method]:
        # The OpenID Connect provider's methods, when it is enabled (auth_app/oidc/).
        oidc = (
            OidcService(self._ctx, self._audit, self._ender).methods()
            if self._ctx.settings.oidc.enabled
            else {}
        )
        return {
            **oidc,
            "auth.login": Method(self.login, LoginParams()),
            "auth.change_password": Method(self.change_password, ChangePasswordParams()),
            "auth.check_session": Method(self.check_session, SessionParams()),
            "auth.refresh": Method(self._tokens.refresh, RefreshParams()),
            "auth.logout": Method(self._management.logout, LogoutParams()),
            "auth.sessions": Method(self._management.list_sessions, ProfileParams()),
            "auth.end_session": Method(self._management.end_session, EndSessionParams()),
            "auth.audit": Method(self._management.audit_events, AuditParams()),
            "auth.forgot_password": Method(self._reset.forgot, ForgotPasswordParams()),
            "auth.reset_password": Method(self._reset.reset, ResetPasswordParams()),
            **self._mfa,
            **self._admin.methods(),
            **self._passkey_methods(),
        }

    def _passkey_methods(self) -> Mapping[str, Method]:
        passkeys, signin = self._passkeys, self._passkey_signin
        return {
            "auth.webauthn_register_options": Method(
                passkeys.register_options, PasskeyOwnerParams()
            ),
            "auth.webauthn_register": Method(passkeys.register, RegisterPasskeyParams()),
            "auth.webauthn_login_options": Method(
                signin.login_options, PasskeyLoginOptionsParams()
            ),
            "auth.webauthn_login": Method(signin.login, PasskeyLoginParams()),
            "auth.webauthn_credentials": Method(passkeys.list_passkeys, PasskeyOwnerParams()),
            "auth.webauthn_delete": Method(passkeys.delete, DeletePasskeyParams()),
        }

    async def login(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx = self._ctx
        async with connection(ctx.pool) as conn:
            user = await ctx.queries.one(conn, "get_user_by_login", login=params["login"])
        # Whether the user exists or not, the same steps run: throttled alike,
        # and a verify that costs the same time (against a decoy if need be).
        account = account_subject(user["id"] if user is not None else None, params["login"])
        try:
            attempt = await self._throttle.begin(account, request.client_ip)
        except RateLimited:
            self._throttled.inc()
            await self._login_refused(request, "login.throttled", user, params["login"])
            raise
        hashed = user["password_hash"] if user is not None else None
        if not await ctx.hasher.verify(params["password"], hashed) or user is None:
            await attempt.failed()
            await self._login_refused(request, "login.failed", user, params["login"])
            raise InvalidCredentials("Invalid username or password")
        await attempt.succeeded()
        await self._rehash_if_outdated(user["id"], params["password"], user["password_hash"])
        # The tokens, or a second step first (auth_app/signin.py), which also
        # refuses (and audits) an account that may not sign in.
        return await self._signin.complete(request, user, amr=("pwd",))

    async def _login_refused(
        self,
        request: Request,
        event_type: str,
        user: asyncpg.Record | None,
        login: str,
    ) -> None:
        """Audit a failed or throttled login in a transaction of its own, then publish it.

        The typed name is recorded only as a hash: it may be someone's password
        typed in the wrong field.
        """
        recorded = Recorded()
        async with connection(self._ctx.pool) as conn, conn.transaction():
            await self._audit.record(
                conn,
                request,
                event_type,
                user_id=user["id"] if user is not None else None,
                data={"login_sha256": token_hash(login.lower())},
                into=recorded,
            )
        await self._audit.publish(recorded)

    async def _rehash_if_outdated(self, user_id: int, password: str, hashed: str) -> None:
        """Store the password at the current BCRYPT_ROUNDS if its hash has another cost."""
        ctx = self._ctx
        if not ctx.hasher.needs_rehash(hashed):
            return
        new_hash = await ctx.hasher.hash(password)
        async with connection(ctx.pool) as conn:
            # None when the password changed meanwhile: that change stands.
            await ctx.queries.value(
                conn, "rehash_password", user_id=user_id, new_hash=new_hash, old_hash=hashed
            )

    async def change_password(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        return await self._ctx.once(request, lambda: self._change_password(params, request))

    async def _change_password(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx = self._ctx
        user_id = params["user_id"]
        user = await verify_own_password(
            ctx,
            user_id=user_id,
            password=params["currentPassword"],
            wrong="Current password is incorrect",
        )
        new_hash = await ctx.hasher.hash(params["newPassword"])

        recorded = Recorded()

        async def replace(conn: asyncpg.Connection) -> dict[str, Any]:
            changed = await ctx.queries.value(
                conn,
                "replace_password_hash",
                user_id=user_id,
                new_hash=new_hash,
                old_hash=user["password_hash"],
            )
            if changed is None:
                raise InvalidCredentials("Password was changed concurrently; try again")
            await self._audit.record(
                conn, request, "user.password_changed", user_id=user_id, into=recorded
            )
            count = await self._ender.end_all(
                conn, ctx.queries, request, user_id=user_id, reason="change", into=recorded
            )
            return {"sessions_ended": count}

        result: dict[str, Any] = await run_once(ctx.pool, ctx.queries, request, replace)
        await self._audit.publish(recorded)
        logger.info(
            "user {} changed password, {} session(s) ended", user_id, result["sessions_ended"]
        )
        return result

    async def check_session(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        """Liveness of a session from PostgreSQL, written back to Redis."""
        ctx = self._ctx
        async with connection(ctx.pool) as conn:
            row = await ctx.queries.one(conn, "get_session", session_id=params["session_id"])
        if row is None:
            return {"live": False, "user_id": None}
        live = bool(row["live"])
        try:
            if live:
                await self._sessions.mark_live(row["id"], row["user_id"], row["expires_at"])
            else:
                await self._sessions.mark_ended([(row["id"], row["expires_at"])])
        except RedisError as exc:
            logger.warning("session {} not mirrored to Redis: {}", row["id"], exc)
        return {"live": live, "user_id": row["user_id"]}


def build_methods(ctx: WorkerContext) -> Mapping[str, Method]:
    return AuthService(ctx).methods()
