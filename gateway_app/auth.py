"""Calls made as the bearer of a token: local signature check, and the session
check folded into the push of the call itself.

The token is verified locally (and remembered until it expires, see
verified_tokens.py). Whether its session is still live is asked of Redis in the
same atomic step that pushes the request (common/rpc/scripts.py PUSH_GUARDED),
so an ended session's token is refused on its very next use at the cost of no
extra round trip.
"""

from __future__ import annotations

from typing import Any

from sanic import Request

from common.errors import InvalidToken, ServiceUnavailable, Unauthorized
from common.rpc.client import SessionGuard, SessionUnknown
from common.security.tokens import TokenClaims
from gateway_app.body import json_object


def bearer_token(request: Request) -> str:
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Missing or malformed Authorization header (expected: Bearer <token>)")
    return token.strip()


def verified_claims(request: Request) -> TokenClaims:
    """The claims of the request's bearer token, signature and expiry checked."""
    claims: TokenClaims = request.app.ctx.tokens.verify(bearer_token(request))
    return claims


async def call_as_caller(
    request: Request, method: str, *, body: bool = False, extra: dict[str, Any] | None = None
) -> Any:
    """Run ``method`` for the bearer of the request's token, pushed only while
    its session is live (401 once it has ended).

    The params are the JSON body when ``body`` (read after the token is
    checked, so a bad token is a 401 whatever the body), then ``extra``, then
    the token's ``user_id`` and ``session_id``, which win over anything of the
    same name the client sent.
    """
    claims = verified_claims(request)
    call_params = {
        **(json_object(request) if body else {}),
        **(extra or {}),
        "user_id": claims.user_id,
        "session_id": claims.session_id,
    }
    guard = SessionGuard(claims.session_id, claims.user_id)
    rpc = request.app.ctx.rpc
    try:
        return await rpc.call(method, call_params, session=guard)
    except SessionUnknown:
        pass
    # Redis has lost the mirror; PostgreSQL decides and writes it back.
    answer: dict[str, Any] = await rpc.call("auth.check_session", {"session_id": claims.session_id})
    if not (answer.get("live") and answer.get("user_id") == claims.user_id):
        raise InvalidToken("Session has ended; log in again")
    try:
        return await rpc.call(method, call_params, session=guard)
    except SessionUnknown:
        raise ServiceUnavailable("Session store lost its data again; retry") from None
