"""Token refresh, logout, the caller's sessions and audit trail."""

from __future__ import annotations

from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse

from common.accounts.schemas import (
    MAX_SESSION_ID,
    AuditParams,
    LogoutParams,
    RefreshParams,
    client_view,
)
from common.errors import InvalidToken, NotFound, RateLimited
from gateway_app import api_schemas as replies
from gateway_app.api_doc import NO_CONTENT, documented
from gateway_app.auth import call_as_caller
from gateway_app.body import call_with_body
from gateway_app.responses import json_response

# Keys of the login and refresh answers (the seed's token and user, plus the pair).
TOKEN_FIELDS = ("token", "refresh_token", "token_type", "expires_in", "user")


def token_answer(result: dict[str, Any], message: str) -> HTTPResponse:
    """The login and refresh answer: the seed's fields, the refresh token, its type and life."""
    body = {"success": True, "message": message} | {key: result[key] for key in TOKEN_FIELDS}
    return json_response(body, headers={"Cache-Control": "no-store"})


def no_content() -> HTTPResponse:
    return HTTPResponse(status=204)


def with_query(request: Request, params: dict[str, Any], name: str) -> dict[str, Any]:
    """``params`` plus query argument ``name`` when given, for the worker's schema to judge.

    A blank value is kept (``?scope=`` is refused, not read as the default),
    and a repeated one is passed as a list, which no schema accepts.
    """
    values = request.get_args(keep_blank_values=True).getlist(name)
    if not values:
        return params
    return params | {name: values[0] if len(values) == 1 else values}


@documented(
    "Trade a refresh token for a new pair (the old one is spent)",
    request=RefreshParams,
    responses={200: replies.LoginReply},
    errors=[InvalidToken, RateLimited],
    rpc=True,
)
async def refresh(request: Request) -> HTTPResponse:
    return token_answer(await call_with_body(request, "auth.refresh"), "Token refreshed")


@documented(
    "End this session (scope=local), the others, or all of them",
    query=client_view(LogoutParams),
    responses={204: NO_CONTENT},
    auth=True,
)
async def logout(request: Request) -> HTTPResponse:
    await call_as_caller(request, "auth.logout", extra=with_query(request, {}, "scope"))
    return no_content()


@documented("The caller's live sessions", responses={200: replies.SessionsReply}, auth=True)
async def list_sessions(request: Request) -> HTTPResponse:
    result = await call_as_caller(request, "auth.sessions")
    return json_response({"success": True, "sessions": result["sessions"]})


@documented(
    "End one of the caller's sessions",
    responses={204: NO_CONTENT},
    errors=[NotFound],
    auth=True,
)
async def end_session(request: Request, target: int) -> HTTPResponse:
    if not 0 < target <= MAX_SESSION_ID:
        # Not a session of anyone's; past 64 bits it could not even be sent to the worker.
        raise NotFound("Session not found")
    await call_as_caller(request, "auth.end_session", extra={"target": target})
    return no_content()


@documented(
    "The caller's recent audit events, newest first",
    query=client_view(AuditParams),
    responses={200: replies.AuditReply},
    auth=True,
)
async def audit(request: Request) -> HTTPResponse:
    result = await call_as_caller(request, "auth.audit", extra=with_query(request, {}, "limit"))
    return json_response({"success": True, "events": result["events"]})


def register_sessions_routes(app: Sanic[Any, Any]) -> None:
    app.add_route(refresh, "/api/auth/refresh", methods=["POST"])
    app.add_route(logout, "/api/auth/logout", methods=["POST"])
    app.add_route(list_sessions, "/api/auth/sessions", methods=["GET"])
    # A non-integer id matches no route: 404, like an id that is not the caller's.
    app.add_route(end_session, "/api/auth/sessions/<target:int>", methods=["DELETE"])
    app.add_route(audit, "/api/auth/audit", methods=["GET"])
