"""Passkeys (WebAuthn): register one (bearer), sign in with one, list and delete one's own.

Each ceremony is two calls: options (a challenge, kept by the auth worker
under a ``ceremony`` id), then the browser's answer with that id. The auth
worker checks everything; these routes only carry the calls.
"""

from __future__ import annotations

from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse

from common.accounts.schemas import client_view
from common.accounts.webauthn_schemas import (
    PasskeyLoginOptionsParams,
    PasskeyLoginParams,
    RegisterPasskeyParams,
)
from common.errors import (
    AccountDisabled,
    Conflict,
    EmailNotVerified,
    InvalidCredentials,
    InvalidPasskey,
    InvalidToken,
    NotFound,
    RateLimited,
)
from gateway_app import api_schemas as replies
from gateway_app import webauthn_replies
from gateway_app.api_doc import NO_CONTENT, documented
from gateway_app.auth import call_as_caller
from gateway_app.body import json_object
from gateway_app.responses import json_response
from gateway_app.routes_sessions import token_answer

# Passkey row ids are PostgreSQL BIGINTs (auth_app/passkeys/credentials.py MAX_PASSKEY_ID).
MAX_PASSKEY_ID = 2**63 - 1


def _options(result: dict[str, Any]) -> HTTPResponse:
    return json_response(
        {"success": True, "ceremony": result["ceremony"], "publicKey": result["publicKey"]},
        headers={"Cache-Control": "no-store"},
    )


@documented(
    "Start registering a passkey: options for navigator.credentials.create()",
    responses={200: webauthn_replies.PasskeyOptionsReply},
    auth=True,
)
async def passkey_register_options(request: Request) -> HTTPResponse:
    return _options(await call_as_caller(request, "auth.webauthn_register_options"))


@documented(
    "Finish registering a passkey with the authenticator's answer",
    description="`credential` is the PublicKeyCredential from navigator.credentials.create() "
    "in its JSON form (binary members base64url), `ceremony` the one of the options call.",
    request=client_view(RegisterPasskeyParams),
    responses={201: webauthn_replies.PasskeyReply},
    errors=[InvalidPasskey, Conflict],
    auth=True,
)
async def passkey_register(request: Request) -> HTTPResponse:
    result = await call_as_caller(request, "auth.webauthn_register", body=True)
    return json_response(
        {"success": True, "message": "Passkey registered", "passkey": result["passkey"]},
        status=201,
    )


@documented(
    "Start a passkey sign-in: options for navigator.credentials.get()",
    description="`{}` for any passkey of this site (discoverable credentials); a `username` "
    "(or `email`) to offer that account's passkeys; the `mfa_token` of a login waiting for its "
    "second factor to offer that account's passkeys and finish that login.",
    request=PasskeyLoginOptionsParams,
    responses={200: webauthn_replies.PasskeyOptionsReply},
    errors=[InvalidToken, RateLimited],
    rpc=True,
)
async def passkey_login_options(request: Request) -> HTTPResponse:
    result = await request.app.ctx.rpc.call("auth.webauthn_login_options", json_object(request))
    return _options(result)


@documented(
    "Sign in with a passkey (no password): answers what login answers",
    description="`credential` is the PublicKeyCredential from navigator.credentials.get() in "
    "its JSON form. With an `mfa_token` (here or in the options call) the passkey is the "
    "second factor of that login.",
    request=PasskeyLoginParams,
    responses={200: replies.LoginReply},
    errors=[InvalidCredentials, InvalidToken, AccountDisabled, EmailNotVerified, RateLimited],
    rpc=True,
)
async def passkey_login(request: Request) -> HTTPResponse:
    result = await request.app.ctx.rpc.call("auth.webauthn_login", json_object(request))
    return token_answer(result, "Login successful")


@documented(
    "The caller's passkeys",
    responses={200: webauthn_replies.PasskeysReply},
    auth=True,
)
async def list_passkeys(request: Request) -> HTTPResponse:
    result = await call_as_caller(request, "auth.webauthn_credentials")
    return json_response({"success": True, "passkeys": result["passkeys"]})


@documented(
    "Delete one of the caller's passkeys",
    responses={204: NO_CONTENT},
    errors=[NotFound],
    auth=True,
)
async def delete_passkey(request: Request, target: int) -> HTTPResponse:
    if not 0 < target <= MAX_PASSKEY_ID:
        raise NotFound("Passkey not found")
    await call_as_caller(request, "auth.webauthn_delete", extra={"target": target})
    return HTTPResponse(status=204)


def register_webauthn_routes(app: Sanic[Any, Any]) -> None:
    base = "/api/auth/webauthn"
    app.add_route(passkey_register_options, f"{base}/register/options", methods=["POST"])
    app.add_route(passkey_register, f"{base}/register", methods=["POST"])
    app.add_route(passkey_login_options, f"{base}/login/options", methods=["POST"])
    app.add_route(passkey_login, f"{base}/login", methods=["POST"])
    app.add_route(list_passkeys, f"{base}/credentials", methods=["GET"])
    # A non-integer id matches no route: 404, like an id that is not the caller's.
    app.add_route(delete_passkey, f"{base}/credentials/<target:int>", methods=["DELETE"])
