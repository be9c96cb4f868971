"""The caller's account (update, delete) and password reset by emailed token."""

from __future__ import annotations

from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse

from common.accounts.schemas import (
    DeleteAccountParams,
    ForgotPasswordParams,
    ResetPasswordParams,
    UpdateProfileParams,
    client_view,
)
from common.errors import Conflict, InvalidCredentials, InvalidResetToken, RateLimited
from gateway_app import api_schemas as replies
from gateway_app.api_doc import NO_CONTENT, documented
from gateway_app.auth import call_as_caller
from gateway_app.body import call_with_body
from gateway_app.responses import json_response

FORGOT_ANSWER = {
    "success": True,
    "message": "If an account has this email, a password reset token is on its way",
}


@documented(
    "Change the caller's username and/or email",
    description="A new email takes effect only once the link sent to it is followed "
    "(POST /api/auth/verify-email); until then `user.email` is the old address, "
    "`pending_email` the new one, and the old address is sent a notice.",
    request=client_view(UpdateProfileParams),
    responses={200: replies.ProfileUpdateReply},
    errors=[Conflict],
    auth=True,
)
async def update_profile(request: Request) -> HTTPResponse:
    result = await call_as_caller(request, "user.update_profile", body=True)
    pending = result.get("pending_email")
    message = (
        "Profile updated; follow the link sent to the new address to finish the change"
        if pending
        else "Profile updated"
    )
    return json_response(
        {"success": True, "message": message, "user": result["user"], "pending_email": pending},
        headers={"Cache-Control": "no-store"},
    )


@documented(
    "Delete the caller's account (asks for the password)",
    request=client_view(DeleteAccountParams),
    responses={204: NO_CONTENT},
    errors=[InvalidCredentials],
    auth=True,
)
async def delete_account(request: Request) -> HTTPResponse:
    await call_as_caller(request, "user.delete", body=True)
    return HTTPResponse(status=204)


@documented(
    "Send a password reset token to the email, if it has an account",
    request=ForgotPasswordParams,
    responses={202: replies.MessageReply},
    errors=[RateLimited],
    rpc=True,
)
async def forgot_password(request: Request) -> HTTPResponse:
    await call_with_body(request, "auth.forgot_password")
    return json_response(FORGOT_ANSWER, status=202)


@documented(
    "Set a new password with a reset token; ends every session",
    request=ResetPasswordParams,
    responses={200: replies.MessageReply},
    errors=[InvalidResetToken, RateLimited],
    rpc=True,
)
async def reset_password(request: Request) -> HTTPResponse:
    await call_with_body(request, "auth.reset_password")
    return json_response({"success": True, "message": "Password reset; log in again"})


def register_account_routes(app: Sanic[Any, Any]) -> None:
    app.add_route(update_profile, "/api/users/profile", methods=["PATCH"])
    app.add_route(delete_account, "/api/users/profile", methods=["DELETE"])
    app.add_route(forgot_password, "/api/auth/forgot-password", methods=["POST"])
    app.add_route(reset_password, "/api/auth/reset-password", methods=["POST"])
