"""Headers that keep browsers safe with our answers, and CORS for ``CORS_ORIGINS`` only.

Every response gets them, errors and 404s included. A route that sets its
own Content-Security-Policy (an HTML page) keeps it: these are defaults.
"""

from __future__ import annotations

import functools
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse

from common.config import Settings
from gateway_app.responses import encode_once

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # An API answer is data: it may load nothing and be framed by no one.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
CORS_ALLOW_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE"
CORS_ALLOW_HEADERS = "Authorization, Content-Type, X-Request-ID"
CORS_EXPOSE_HEADERS = "X-Request-ID, Retry-After"
CORS_MAX_AGE_SECONDS = 600


NO_STORE = "no-store"


def install(app: Sanic[Any, Any]) -> None:
    settings: Settings = app.ctx.settings
    for name, value in [*fixed_headers(settings.http.hsts_seconds), ("Cache-Control", NO_STORE)]:
        encode_once(name, value)
    app.register_middleware(_decorate, "response")  # type: ignore[arg-type]


@functools.cache
def fixed_headers(hsts_seconds: int) -> tuple[tuple[str, str], ...]:
    """What every response gets, built once per HSTS setting."""
    fixed = list(SECURITY_HEADERS.items())
    if hsts_seconds:
        fixed.append(("Strict-Transport-Security", f"max-age={hsts_seconds}"))
    return tuple(fixed)


def preflight(request: Request) -> HTTPResponse | None:
    """204 for a CORS preflight from a listed origin; None lets any other
    OPTIONS request take its normal course (405 or 404, without CORS headers)."""
    if request.method != "OPTIONS" or "access-control-request-method" not in request.headers:
        return None
    if allowed_origin(request) is None:
        return None
    return HTTPResponse(
        status=204,
        headers={
            "Access-Control-Allow-Methods": CORS_ALLOW_METHODS,
            "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
            "Access-Control-Max-Age": str(CORS_MAX_AGE_SECONDS),
        },
    )


def allowed_origin(request: Request) -> str | None:
    """The request's Origin when CORS_ORIGINS lists it (exact match), else None."""
    origin = request.headers.get("origin")
    settings: Settings = request.app.ctx.settings
    return origin if origin is not None and origin in settings.http.cors_origins else None


async def _decorate(request: Request, response: HTTPResponse) -> None:
    settings: Settings = request.app.ctx.settings
    headers = response.headers
    for name, value in fixed_headers(settings.http.hsts_seconds):
        # setdefault: a route's own (an HTML page's CSP) wins.
        headers.setdefault(name, value)
    if request.path.startswith("/api/"):
        # Tokens and user data: no cache, shared or private, may keep them.
        headers["Cache-Control"] = NO_STORE
    if settings.http.cors_origins:
        # The answer depends on Origin whether or not this one is listed.
        vary = headers.get("Vary")
        headers["Vary"] = f"{vary}, Origin" if vary else "Origin"
        origin = allowed_origin(request)
        if origin is not None:
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Expose-Headers"] = CORS_EXPOSE_HEADERS
