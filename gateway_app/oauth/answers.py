"""Answers in RFC 6749's shape: ``{"error", "error_description"}``, never Gatehouse's.

Client authentication failures are 401 with ``WWW-Authenticate`` (RFC 6749
5.2), bearer token failures at UserInfo 401 with ``WWW-Authenticate: Bearer``
(RFC 6750 3). A refusal the gateway decides alone is audited by the auth
worker all the same.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any

from loguru import logger
from sanic import Request
from sanic.response import HTTPResponse

from common.errors import GatehouseError, OAuthError, ValidationFailed
from gateway_app.responses import json_response

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
Handler = Callable[..., Coroutine[Any, Any, HTTPResponse]]


def oauth_json(body: Any, *, status: int = 200) -> HTTPResponse:
    return json_response(body, status=status, headers=dict(NO_STORE))


def oauth_error(error: OAuthError, *, bearer: bool = False) -> HTTPResponse:
    headers = dict(NO_STORE)
    if bearer:
        headers["WWW-Authenticate"] = (
            f'Bearer realm="gatehouse", error="{error.error}", '
            f'error_description="{error.message.replace(chr(34), chr(39))}"'
        )
    elif error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="gatehouse"'
    return json_response(
        {"error": error.error, "error_description": error.message},
        status=error.status,
        headers=headers,
    )


async def audit_refusal(request: Request, endpoint: str, error: OAuthError) -> None:
    """Have the auth worker audit a refusal decided here; its failure loses only the row."""
    try:
        await request.app.ctx.rpc.call(
            "auth.oidc_refused",
            {"endpoint": endpoint, "error": error.error, "description": error.message[:512]},
        )
    except GatehouseError as exc:
        logger.warning("oauth refusal not audited: {}", exc.code)


def rfc_errors(endpoint: str, *, bearer: bool = False) -> Callable[[Handler], Handler]:
    """Render OAuthError (and the worker's validation errors) in the RFC's shape.

    ``gateway_only`` refusals (raised before any RPC) are audited through the
    auth worker; those the worker raised were audited there.
    """

    def wrap(handler: Handler) -> Handler:
        @wraps(handler)
        async def run(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            request.ctx.oauth_rpc_done = False
            try:
                return await handler(request, *args, **kwargs)
            except ValidationFailed as exc:
                error = OAuthError.of("invalid_request", _first_problem(exc))
                await audit_refusal(request, endpoint, error)
                return oauth_error(error, bearer=bearer)
            except OAuthError as error:
                if not request.ctx.oauth_rpc_done:
                    await audit_refusal(request, endpoint, error)
                return oauth_error(error, bearer=bearer)

        return run

    return wrap


def _first_problem(exc: ValidationFailed) -> str:
    for field, problems in exc.details.items():
        text = problems[0] if isinstance(problems, list) and problems else problems
        return f"{field}: {text}"
    return exc.message
