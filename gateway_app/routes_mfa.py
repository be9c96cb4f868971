"""Second factors: the caller's MFA state, TOTP enrolment and removal, recovery codes,
and the second step of a login.

The enrolment routes take a bearer token, or, at a login that requires a
second factor the user lacks, the ``mfa_token`` of that answer in the body
instead: the only token they accept besides a bearer, and the only routes
that accept it.
"""

from __future__ import annotations

from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse

from common.accounts.mfa_schemas import (
    MfaVerifyParams,
    RecoveryCodesParams,
    TotpConfirmBody,
    TotpDisableParams,
    TotpStartBody,
    client_view,
)
from common.errors import Conflict, InvalidCredentials, RateLimited
from gateway_app import api_schemas_mfa as replies
from gateway_app.api_doc import documented
from gateway_app.auth import call_as_caller
from gateway_app.body import json_object
from gateway_app.responses import json_response
from gateway_app.routes_sessions import TOKEN_FIELDS

ENROLMENT_TOKEN = "mfa_token"  # noqa: S105 (a field name)
NO_STORE = {"Cache-Control": "no-store"}


def _answer(body: dict[str, Any], message: str) -> HTTPResponse:
    return json_response({"success": True, "message": message, **body}, headers=NO_STORE)


def challenge_answer(result: dict[str, Any]) -> HTTPResponse | None:
    """Login's answer when a second step comes first (no token in it); None otherwise."""
    if result.get("mfa_required"):
        message = "Enter a code from your authenticator app (or a recovery code)"
    elif result.get("mfa_enrolment_required"):
        message = "Two-factor authentication is required: enrol to continue"
    else:
        return None
    return _answer(result, message)


async def _with_enrolment_token_or_bearer(request: Request, method: str) -> Any:
    body = json_object(request)
    if ENROLMENT_TOKEN in body:
        return await request.app.ctx.rpc.call(f"auth.mfa_totp_enrol_{method}", body)
    return await call_as_caller(request, f"auth.mfa_totp_{method}", body=True)


@documented(
    "The caller's second factors: methods enrolled, recovery codes left, whether required",
    responses={200: replies.MfaStateReply},
    auth=True,
)
async def mfa_state(request: Request) -> HTTPResponse:
    result = await call_as_caller(request, "auth.mfa_state")
    return _answer({"mfa": result}, "Second factors")


@documented(
    "Start TOTP enrolment: the secret, its otpauth:// URI and a QR code (SVG)",
    description="With a bearer token, give the current `password`. At a login that answered "
    "`mfa_enrolment_required`, give that `mfa_token` instead (no bearer).",
    request=TotpStartBody,
    responses={200: replies.TotpEnrolmentReply},
    errors=[InvalidCredentials, Conflict],
    auth=True,
)
async def totp_start(request: Request) -> HTTPResponse:
    result = await _with_enrolment_token_or_bearer(request, "start")
    return _answer(result, "Scan the QR code, then confirm with a code")


@documented(
    "Confirm TOTP with a first code: turns it on, answers 10 recovery codes (shown once)",
    description="With the enrolment `mfa_token` (no bearer), the answer also holds the login "
    "answer's tokens. Wrong codes are throttled like passwords.",
    request=TotpConfirmBody,
    responses={200: replies.TotpEnabledReply},
    errors=[InvalidCredentials, Conflict, RateLimited],
    auth=True,
)
async def totp_confirm(request: Request) -> HTTPResponse:
    result = await _with_enrolment_token_or_bearer(request, "confirm")
    if "token" in result:
        fields = {key: result[key] for key in (*TOKEN_FIELDS, "recovery_codes")}
        return _answer(fields, "Two-factor authentication is on; login successful")
    return _answer(result, "Two-factor authentication is on; keep the recovery codes safe")


@documented(
    "Turn TOTP off (password and a code or recovery code); ends every other session",
    request=client_view(TotpDisableParams),
    responses={200: replies.TotpDisabledReply},
    errors=[InvalidCredentials, Conflict, RateLimited],
    auth=True,
)
async def totp_disable(request: Request) -> HTTPResponse:
    result = await call_as_caller(request, "auth.mfa_totp_disable", body=True)
    return _answer(result, "Two-factor authentication is off")


@documented(
    "New recovery codes (the old ones stop working), for the password or a code",
    request=client_view(RecoveryCodesParams),
    responses={200: replies.RecoveryCodesReply},
    errors=[InvalidCredentials, Conflict, RateLimited],
    auth=True,
)
async def recovery_codes(request: Request) -> HTTPResponse:
    result = await call_as_caller(request, "auth.mfa_recovery_codes", body=True)
    return _answer(result, "New recovery codes; the old ones no longer work")


@documented(
    "Second step of a login: the mfa_token with a code or a recovery code -> the login answer",
    request=MfaVerifyParams,
    responses={200: replies.MfaVerifyReply},
    errors=[InvalidCredentials, RateLimited],
    rpc=True,
)
async def mfa_verify(request: Request) -> HTTPResponse:
    result = await request.app.ctx.rpc.call("auth.mfa_verify", json_object(request))
    body = {key: result[key] for key in TOKEN_FIELDS}
    message = "Login successful"
    if "recovery_codes_left" in result:
        body["recovery_codes_left"] = result["recovery_codes_left"]
        message = f"Login successful; {result['recovery_codes_left']} recovery code(s) left"
    return _answer(body, message)


def register_mfa_routes(app: Sanic[Any, Any]) -> None:
    app.add_route(mfa_state, "/api/auth/mfa", methods=["GET"])
    app.add_route(totp_start, "/api/auth/mfa/totp", methods=["POST"])
    app.add_route(totp_confirm, "/api/auth/mfa/totp/confirm", methods=["POST"])
    app.add_route(totp_disable, "/api/auth/mfa/totp", methods=["DELETE"])
    app.add_route(recovery_codes, "/api/auth/mfa/recovery-codes", methods=["POST"])
    app.add_route(mfa_verify, "/api/auth/mfa/verify", methods=["POST"])
