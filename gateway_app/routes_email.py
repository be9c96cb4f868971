"""Verified email: follow an emailed link, ask for a new one."""

from __future__ import annotations

from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse

from common.accounts.schemas import VerifyEmailParams
from common.errors import Conflict, InvalidEmailToken, RateLimited
from gateway_app import api_schemas as replies
from gateway_app.api_doc import documented
from gateway_app.auth import call_as_caller
from gateway_app.body import json_object
from gateway_app.responses import json_response


@documented(
    "Confirm an email address with the token of an emailed link",
    description="Verifies the account's address, or finishes a change of address asked for "
    "with PATCH /api/users/profile (the account moves to the new address only now).",
    request=VerifyEmailParams,
    responses={200: replies.VerifiedReply},
    errors=[InvalidEmailToken, Conflict],
    rpc=True,
)
async def verify_email(request: Request) -> HTTPResponse:
    result = await request.app.ctx.rpc.call("user.verify_email", json_object(request))
    return json_response(
        {"success": True, "message": "Email address confirmed", "user": result["user"]},
        headers={"Cache-Control": "no-store"},
    )


@documented(
    "Send a new verification link to the caller's address",
    description="`sent` is false when the address is already verified (nothing is sent).",
    responses={202: replies.ResendReply},
    errors=[RateLimited],
    auth=True,
)
async def resend_verification(request: Request) -> HTTPResponse:
    result = await call_as_caller(request, "user.resend_verification")
    message = "A verification link is on its way" if result["sent"] else "Already verified"
    return json_response({"success": True, "message": message, "sent": result["sent"]}, status=202)


def register_email_routes(app: Sanic[Any, Any]) -> None:
    app.add_route(verify_email, "/api/auth/verify-email", methods=["POST"])
    app.add_route(resend_verification, "/api/auth/verify-email/resend", methods=["POST"])
