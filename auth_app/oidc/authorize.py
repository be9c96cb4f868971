"""``/oauth/authorize``: checking the request, the login and consent steps, the code.

The order of checks follows RFC 6749 4.1.2.1: an unknown client or a
redirect URI not registered for it is shown to the person and never
redirected (an open redirector otherwise); every later problem goes back to
the redirect URI as ``error`` and ``state``. A request that needs the person
(login, consent) is kept in Redis under a random id for OIDC_REQUEST_TTL; the
login and consent forms carry that id, and consent is accepted only from the
browser whose provider cookie names the session the request was bound to.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import asyncpg

from auth_app.oidc.base import Provider
from common import json_codec
from common.accounts.audit import Recorded
from common.db.pool import connection
from common.errors import InvalidToken, OAuthError
from common.rpc.message import Request
from common.security.opaque_tokens import new_token, token_hash

# RFC 7636 4.2: BASE64URL(SHA256(verifier)) is 43 characters.
_S256_CHALLENGE = re.compile(r"\A[A-Za-z0-9_-]{43}\Z")
PROMPTS = ("none", "login", "consent")
ENDPOINT = "authorize"


def with_query(uri: str, values: dict[str, str | None]) -> str:
    query = urlencode({k: v for k, v in values.items() if v is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"


class Authorization:
    def __init__(self, provider: Provider) -> None:
        self._p = provider

    def _key(self, request_id: str) -> str:
        return f"{self._p.ctx.keys.prefix}:oidc:request:{token_hash(request_id)}"

    async def _shown(
        self, request: Request, description: str, client_id: str | None
    ) -> dict[str, Any]:
        """An error the person sees on our page: never a redirect."""
        error = OAuthError.of("invalid_request", description)
        await self._p.refused(request, ENDPOINT, error, client_id=client_id)
        return {"show_error": description}

    async def _redirected(
        self, request: Request, pending: dict[str, Any], error: str, description: str
    ) -> dict[str, Any]:
        await self._p.refused(
            request, ENDPOINT, OAuthError.of(error, description), client_id=pending["client_id"]
        )
        return {
            "redirect": with_query(
                pending["redirect_uri"],
                {
                    "error": error,
                    "error_description": description,
                    "state": pending.get("state"),
                    "iss": self._p.issuer,
                },
            )
        }

    async def authorize(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx = self._p.ctx
        client_id, redirect_uri = params["client_id"], params["redirect_uri"]
        if "client_id" in params["duplicates"] or "redirect_uri" in params["duplicates"]:
            return await self._shown(request, "client_id or redirect_uri given twice", client_id)
        if not client_id:
            return await self._shown(request, "The request names no client (client_id)", None)
        async with connection(ctx.pool) as conn:
            client = await ctx.queries.one(conn, "oidc_get_client", client_id=client_id)
        if client is None:
            return await self._shown(request, "Unknown client", client_id)
        if not redirect_uri or redirect_uri not in client["redirect_uris"]:
            return await self._shown(
                request, "The redirect_uri is not registered for this client", client_id
            )
        pending: dict[str, Any] = {
            "client_id": client_id,
            "client_name": client["name"],
            "redirect_uri": redirect_uri,
            "state": params["state"],
            "nonce": params["nonce"],
            "code_challenge": params["code_challenge"],
            "session_id": None,
            "user_id": None,
        }
        problem = self._problem(params, client)
        if problem is not None:
            return await self._redirected(request, pending, *problem)
        scopes = sorted(set((params["scope"] or "").split()))
        pending["scopes"] = scopes
        prompt = params["prompt"]
        session = None if prompt == "login" else await self._browser_session(params["browser"])
        if session is None:
            if prompt == "none":
                return await self._redirected(
                    request, pending, "login_required", "The person is not logged in"
                )
            return await self._park(pending, "login")
        pending["session_id"], pending["user_id"] = session["session_id"], session["user_id"]
        return await self._after_login(request, pending, force_consent=prompt == "consent")

    def _problem(self, params: dict[str, Any], client: asyncpg.Record) -> tuple[str, str] | None:
        """(error, description) of the first problem after the client checks, or None."""
        if params["duplicates"]:
            return "invalid_request", f"Parameter given twice: {params['duplicates'][0]}"
        if params["response_type"] != "code":
            return "unsupported_response_type", "Only response_type=code is supported"
        scopes = (params["scope"] or "").split()
        if not scopes:
            return "invalid_scope", "The request names no scope"
        unknown = [s for s in scopes if s not in client["scopes"]]
        if unknown:
            return "invalid_scope", f"Scope not allowed for this client: {unknown[0]}"
        if not params["code_challenge"]:
            return "invalid_request", "PKCE is required: send code_challenge (S256)"
        if params["code_challenge_method"] != "S256":
            return "invalid_request", "Only code_challenge_method=S256 is supported"
        if not _S256_CHALLENGE.match(params["code_challenge"]):
            return "invalid_request", "code_challenge is not a base64url SHA-256 (43 characters)"
        if params["prompt"] is not None and params["prompt"] not in PROMPTS:
            return "invalid_request", "prompt must be none, login or consent"
        return None

    async def _browser_session(self, browser: str | None) -> asyncpg.Record | None:
        if not browser:
            return None
        ctx = self._p.ctx
        async with connection(ctx.pool) as conn:
            row: asyncpg.Record | None = await ctx.queries.one(
                conn, "oidc_browser_session", token_hash=token_hash(browser)
            )
        return row

    async def _park(self, pending: dict[str, Any], page: str) -> dict[str, Any]:
        request_id = new_token()
        ttl = max(1, int(self._p.ctx.settings.oidc.request_ttl))
        await self._p.ctx.redis.set(self._key(request_id), json_codec.dumps(pending), ex=ttl)
        return {
            "page": page,
            "request_id": request_id,
            "client_name": pending["client_name"],
            "scopes": pending.get("scopes", []),
            "redirect_uri": pending["redirect_uri"],
        }

    async def _load(self, request_id: str) -> dict[str, Any] | None:
        raw = await self._p.ctx.redis.get(self._key(request_id))
        return None if raw is None else dict(json_codec.loads(raw))

    async def pending(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        """The client name and scopes of a parked request (to render its page again)."""
        pending = await self._load(params["request_id"])
        if pending is None:
            return {"show_error": "This sign-in request has expired; start again from the app"}
        return {
            "client_name": pending["client_name"],
            "scopes": pending["scopes"],
            "redirect_uri": pending["redirect_uri"],
        }

    async def _after_login(
        self, request: Request, pending: dict[str, Any], *, force_consent: bool = False
    ) -> dict[str, Any]:
        ctx = self._p.ctx
        async with connection(ctx.pool) as conn:
            granted = await ctx.queries.value(
                conn, "oidc_get_consent", user_id=pending["user_id"], client_id=pending["client_id"]
            )
        if not force_consent and granted is not None and set(pending["scopes"]) <= set(granted):
            return await self._issue_code(request, pending)
        return await self._park(pending, "consent")

    async def attach(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        """After the login page's successful login: bind the request to the new
        session, give the browser its provider cookie, and go on."""
        ctx = self._p.ctx
        pending = await self._load(params["request_id"])
        if pending is None:
            return {"show_error": "This sign-in request has expired; start again from the app"}
        try:
            claims = ctx.signer().verify(params["access_token"])
        except InvalidToken:
            return {"show_error": "The login did not complete; start again from the app"}
        browser = new_token()
        async with connection(ctx.pool) as conn:
            await ctx.queries.execute(
                conn,
                "oidc_insert_browser_session",
                token_hash=token_hash(browser),
                session_id=claims.session_id,
            )
        await ctx.redis.delete(self._key(params["request_id"]))
        pending["session_id"], pending["user_id"] = claims.session_id, claims.user_id
        return {"browser": browser, **await self._after_login(request, pending)}

    async def consent(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx = self._p.ctx
        pending = await self._load(params["request_id"])
        if pending is None:
            return {"show_error": "This sign-in request has expired; start again from the app"}
        session = await self._browser_session(params["browser"])
        if session is None or session["session_id"] != pending["session_id"]:
            return await self._shown(
                request,
                "This consent belongs to another sign-in; start again from the app",
                pending["client_id"],
            )
        await ctx.redis.delete(self._key(params["request_id"]))
        if not params["allow"]:
            return await self._redirected(
                request, pending, "access_denied", "The person declined the request"
            )
        recorded = Recorded()
        async with connection(ctx.pool) as conn, conn.transaction():
            await ctx.queries.execute(
                conn,
                "oidc_upsert_consent",
                user_id=pending["user_id"],
                client_id=pending["client_id"],
                scopes=pending["scopes"],
            )
            await self._p.record(
                request,
                "oauth.consent_granted",
                user_id=pending["user_id"],
                data={"client_id": pending["client_id"], "scopes": pending["scopes"]},
                conn=conn,
                into=recorded,
            )
        await self._p.audit.publish(recorded)
        return await self._issue_code(request, pending)

    async def _issue_code(self, request: Request, pending: dict[str, Any]) -> dict[str, Any]:
        ctx = self._p.ctx
        code = new_token()
        async with connection(ctx.pool) as conn:
            await ctx.queries.execute(
                conn,
                "oidc_insert_code",
                code_hash=token_hash(code),
                client_id=pending["client_id"],
                user_id=pending["user_id"],
                session_id=pending["session_id"],
                redirect_uri=pending["redirect_uri"],
                scopes=pending["scopes"],
                nonce=pending["nonce"],
                code_challenge=pending["code_challenge"],
                ttl=ctx.settings.oidc.code_ttl,
            )
        return {
            "redirect": with_query(
                pending["redirect_uri"],
                {"code": code, "state": pending["state"], "iss": self._p.issuer},
            )
        }

    async def end_session(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        """RP-initiated logout: end the browser's Gatehouse session, and with it
        every app token issued from it; then back to a registered URI, if any."""
        ctx = self._p.ctx
        client_id = params["client_id"]
        if params["id_token_hint"]:
            try:
                client_id, _ = self._p.tokens.id_token_client(params["id_token_hint"])
            except OAuthError as error:
                return await self._shown(request, error.message, params["client_id"])
        target = params["post_logout_redirect_uri"]
        if target is not None:
            client = None
            if client_id:
                async with connection(ctx.pool) as conn:
                    client = await ctx.queries.one(conn, "oidc_get_client", client_id=client_id)
            if client is None or target not in client["post_logout_redirect_uris"]:
                return await self._shown(
                    request, "post_logout_redirect_uri is not registered for this client", client_id
                )
        session = await self._browser_session(params["browser"])
        if session is not None:
            await self._end(request, session)
        if target is None:
            return {"logged_out": True}
        return {"redirect": with_query(target, {"state": params["state"]})}

    async def _end(self, request: Request, session: asyncpg.Record) -> None:
        ctx = self._p.ctx
        recorded = Recorded()
        async with connection(ctx.pool) as conn, conn.transaction():
            ended = await ctx.queries.many(
                conn,
                "end_session",
                session_id=session["session_id"],
                user_id=session["user_id"],
                reason="logout",
            )
            await self._p.ender.ended(
                conn, request, ended, user_id=session["user_id"], reason="logout", into=recorded
            )
        await self._p.audit.publish(recorded)
