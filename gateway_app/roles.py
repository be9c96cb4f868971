"""Roles at the gateway: the token's ``roles`` claim, and the 403 when one is missing.

``require_role`` answers 403 ``forbidden`` before any worker runs the call,
and has the refusal audited (``access.forbidden``, by the auth worker, which
owns the audit trail). The workers check the actor's roles again against
PostgreSQL, so a role revoked since the token was issued counts at once.
"""

from __future__ import annotations

from sanic import Request

from common.errors import Forbidden
from common.security.tokens import TokenClaims
from gateway_app.auth import call_as_caller, verified_claims

MAX_ACTION_LENGTH = 200


async def require_role(request: Request, role: str) -> TokenClaims:
    """The bearer's claims (user id, session id, roles) if the token carries ``role``;
    else 403, audited. Any route reads the roles the same way: ``verified_claims(request).roles``.
    """
    claims = verified_claims(request)
    if claims.has_role(role):
        return claims
    action = f"{request.method} {request.path}"[:MAX_ACTION_LENGTH]
    # Also checks that the session is live: an ended session's token is a 401, not a 403.
    await call_as_caller(request, "auth.forbidden", extra={"role": role, "action": action})
    raise Forbidden(f"This needs the role {role!r}")
