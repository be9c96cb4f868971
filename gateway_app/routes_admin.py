"""The admin API under /api/admin/ (role ``admin``).

Each route first asks ``require_role`` (403 ``forbidden``, audited, for a
token without the role), then calls the worker that owns the data: user-data
methods on the user worker, anything that ends sessions on the auth worker.
"""

from __future__ import annotations

from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse

from common.accounts.admin_schemas import AdminListParams, AdminUserMfaParams
from common.accounts.roles import ADMIN
from common.accounts.schemas import MAX_SESSION_ID, TOKEN_FIELDS, client_view
from common.errors import Forbidden, NotFound, ValidationFailed
from gateway_app import api_schemas_admin as replies
from gateway_app.api_doc import documented
from gateway_app.auth import call_as_caller
from gateway_app.responses import json_response
from gateway_app.roles import require_role
from gateway_app.routes_sessions import with_query

LIST_QUERY = ("q", "sort", "cursor", "limit")
# The mfa-required routes' body: the target (or role) is in the path.
MFA_BODY = AdminUserMfaParams(exclude=(*TOKEN_FIELDS, "target"))
ADMIN_ERRORS = [Forbidden]
# 400: a role name that is not one, or an admin acting on their own account.
TARGET_ERRORS = [Forbidden, NotFound, ValidationFailed]


async def _as_admin(request: Request, method: str, *, body: bool = False, **extra: Any) -> Any:
    """``method`` for an admin, with the path's ``extra`` params (and the JSON body if ``body``)."""
    await require_role(request, ADMIN)
    target = extra.get("target")
    if target is not None and not 0 < target <= MAX_SESSION_ID:
        # Past PostgreSQL's integer no user can exist.
        raise NotFound("User not found")
    return await call_as_caller(request, method, body=body, extra=extra)


def _answer(body: dict[str, Any]) -> HTTPResponse:
    return json_response({"success": True, **body}, headers={"Cache-Control": "no-store"})


@documented(
    "Find users by name or email, a page at a time",
    query=client_view(AdminListParams),
    responses={200: replies.AdminUsersReply},
    errors=ADMIN_ERRORS,
    auth=True,
)
async def list_users(request: Request) -> HTTPResponse:
    params: dict[str, Any] = {}
    for name in LIST_QUERY:
        params = with_query(request, params, name)
    await require_role(request, ADMIN)
    result = await call_as_caller(request, "user.admin_list", extra=params)
    return _answer(result)


@documented(
    "One user: state, roles, second factor, live sessions",
    responses={200: replies.AdminUserReply},
    errors=TARGET_ERRORS,
    auth=True,
)
async def show_user(request: Request, target: int) -> HTTPResponse:
    return _answer(await _as_admin(request, "user.admin_show", target=target))


def _action_route(method: str, message: str, summary: str) -> Any:
    @documented(summary, responses={200: replies.AdminActionReply}, errors=TARGET_ERRORS, auth=True)
    async def handler(request: Request, target: int) -> HTTPResponse:
        result = await _as_admin(request, method, target=target)
        return _answer({"message": message, "sessions_ended": result["sessions_ended"]})

    handler.__name__ = method.partition(".")[2]
    return handler


disable_user = _action_route(
    "auth.admin_disable", "User disabled", "Disable a user: no login, no refresh, sessions ended"
)
enable_user = _action_route("auth.admin_enable", "User enabled", "Enable a disabled user")
logout_user = _action_route(
    "auth.admin_logout", "Sessions ended", "End every session of a user (force logout)"
)
delete_user = _action_route(
    "auth.admin_delete", "User deleted", "Delete a user, ending every session first"
)


@documented(
    "Grant a role to a user (PUT) or revoke it (DELETE)",
    description="The user's tokens carry the change from their next login or refresh.",
    responses={200: replies.AdminRolesReply},
    errors=TARGET_ERRORS,
    auth=True,
)
async def user_role(request: Request, target: int, role: str) -> HTTPResponse:
    grant = request.method == "PUT"
    method = "user.admin_grant_role" if grant else "user.admin_revoke_role"
    result = await _as_admin(request, method, target=target, role=role)
    message = ("Role granted" if grant else "Role revoked") if result["changed"] else "No change"
    return _answer({"message": message, **result})


@documented(
    "Require (or stop requiring) a second factor of one user",
    request=MFA_BODY,
    responses={200: replies.AdminMfaReply},
    errors=TARGET_ERRORS,
    auth=True,
)
async def user_mfa_required(request: Request, target: int) -> HTTPResponse:
    result = await _as_admin(request, "user.admin_user_mfa", target=target, body=True)
    return _answer({"message": "MFA requirement set", "mfa_required": result["mfa_required"]})


@documented(
    "Require (or stop requiring) a second factor of everyone holding a role",
    request=MFA_BODY,
    responses={200: replies.AdminMfaReply},
    errors=TARGET_ERRORS,
    auth=True,
)
async def role_mfa_required(request: Request, role: str) -> HTTPResponse:
    result = await _as_admin(request, "user.admin_role_mfa", role=role, body=True)
    return _answer({"message": "MFA requirement set", "mfa_required": result["mfa_required"]})


def register_admin_routes(app: Sanic[Any, Any]) -> None:
    users = "/api/admin/users"
    app.add_route(list_users, users, methods=["GET"])
    # A non-integer id matches no route: 404, like an id of nobody.
    app.add_route(show_user, f"{users}/<target:int>", methods=["GET"])
    app.add_route(delete_user, f"{users}/<target:int>", methods=["DELETE"])
    app.add_route(disable_user, f"{users}/<target:int>/disable", methods=["POST"])
    app.add_route(enable_user, f"{users}/<target:int>/enable", methods=["POST"])
    app.add_route(logout_user, f"{users}/<target:int>/logout", methods=["POST"])
    app.add_route(user_role, f"{users}/<target:int>/roles/<role>", methods=["PUT", "DELETE"])
    app.add_route(user_mfa_required, f"{users}/<target:int>/mfa-required", methods=["PUT"])
    app.add_route(role_mfa_required, "/api/admin/roles/<role>/mfa-required", methods=["PUT"])
