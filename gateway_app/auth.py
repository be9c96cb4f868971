"""Bearer-token check for protected routes: local signature check, one Redis GET."""

from __future__ import annotations

from typing import Any

from redis.exceptions import RedisError
from sanic import Request

from common.errors import InvalidToken, ServiceUnavailable, Unauthorized
from common.rpc.client import RpcClient
from common.security.tokens import TokenClaims, TokenVerifier
from common.sessions import SessionCache


def bearer_token(request: Request) -> str:
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Missing or malformed Authorization header (expected: Bearer <token>)")
    return token.strip()


async def authenticate(
    request: Request, tokens: TokenVerifier, sessions: SessionCache, rpc: RpcClient
) -> TokenClaims:
    """Claims of a valid token whose session is still live; 401 otherwise."""
    claims = tokens.verify(bearer_token(request))
    try:
        live = await sessions.is_live_for(claims.session_id, claims.user_id)
    except RedisError as exc:
        raise ServiceUnavailable("Session store unreachable") from exc
    if live is None:
        # Redis has lost the mirror; PostgreSQL decides and repopulates it.
        answer: dict[str, Any] = await rpc.call(
            "auth.check_session", {"session_id": claims.session_id}
        )
        live = bool(answer.get("live")) and answer.get("user_id") == claims.user_id
    if not live:
        raise InvalidToken("Session has ended; log in again")
    return claims


async def caller_params(request: Request) -> dict[str, Any]:
    """``user_id`` and ``session_id`` of the request's live bearer token, as RPC params."""
    ctx = request.app.ctx
    claims = await authenticate(request, ctx.tokens, ctx.sessions, ctx.rpc)
    return {"user_id": claims.user_id, "session_id": claims.session_id}
