"""The login page's second step: when ``auth.login`` answers a challenge, the
second-factor page, and its form post ``POST /oauth/login/mfa``.

The page takes what a page without script can: a TOTP code or a recovery
code. A passkey-only account, or one that must enrol first, is sent to the
account page; nothing here lets a login through without its second factor.
"""

from __future__ import annotations

from typing import Any

from sanic import Request
from sanic.response import HTTPResponse

from common.errors import (
    GatehouseError,
    InvalidCredentials,
    InvalidToken,
    RateLimited,
    ValidationFailed,
)
from gateway_app.api_doc import Content, documented
from gateway_app.oauth import pages, web

HTML_PAGE = Content(("text/html",))
REDIRECT = Content((), "Redirect (to the app, or back to the login page)")
# What this page can take; "webauthn" needs the account page's script.
PAGE_FACTORS = frozenset({"totp", "recovery_code"})
PASSKEY_ONLY = (
    "This account's second factor is a passkey, which this sign-in page cannot use: "
    "open your account page (/account), turn on an authenticator app, then sign in again"
)
MUST_ENROL = (
    "This account must have a second factor first: set one up on your account page "
    "(/account), then sign in again"
)
EXPIRED = "The sign-in took too long or was already finished: log in again"


def challenge_page(
    request_id: str, client_name: str, sends_to: str, result: dict[str, Any]
) -> HTTPResponse:
    """The page for a login answer that holds no token (a second step comes first)."""
    if result.get("mfa_required") and PAGE_FACTORS.intersection(result.get("methods", [])):
        return pages.second_factor_page(request_id, result["mfa_token"], client_name, sends_to)
    if result.get("mfa_required"):
        return pages.login_page(request_id, client_name, sends_to, message=PASSKEY_ONLY, status=401)
    # mfa_enrolment_required, or an answer this page does not know: refuse.
    return pages.login_page(request_id, client_name, sends_to, message=MUST_ENROL, status=403)


async def finish(request: Request, request_id: str, access_token: str) -> HTTPResponse:
    """Tie the new session to the sign-in request: its cookie, then consent or the app."""
    attached = await request.app.ctx.rpc.call(
        "auth.oidc_attach", {"request_id": request_id, "access_token": access_token}
    )
    response = web.answer(attached, see_other=True)
    return web.with_cookie(response, request, attached.get("browser"))


def _proof(values: dict[str, str]) -> dict[str, str] | str:
    """``{"code"}`` or ``{"recovery_code"}`` from the form (exactly one), or what is wrong."""
    code = "".join(values.get("code", "").split())
    recovery_code = values.get("recovery_code", "").strip()
    if code and recovery_code:
        return "Give a code or a recovery code, not both"
    if code:
        return {"code": code}
    if recovery_code:
        return {"recovery_code": recovery_code}
    return "Enter a code from your authenticator app, or a recovery code"


@documented(
    "The second-factor page's form post (a code or a recovery code, like /api/auth/mfa/verify)",
    responses={
        200: HTML_PAGE,
        303: REDIRECT,
        400: HTML_PAGE,
        401: HTML_PAGE,
        403: HTML_PAGE,
        429: HTML_PAGE,
    },
    rpc=True,
)
async def login_mfa_form(request: Request) -> HTTPResponse:
    form = await web.pending_form(request)
    if isinstance(form, HTTPResponse):
        return form
    rpc = request.app.ctx.rpc
    values, request_id = form.values, form.request_id
    name, target = form.client_name, form.redirect_uri
    mfa_token = values.get("mfa_token", "")
    if not mfa_token:
        return pages.login_page(request_id, name, target, message=EXPIRED, status=401)

    def again(message: str, status: int) -> HTTPResponse:
        return pages.second_factor_page(
            request_id, mfa_token, name, target, message=message, status=status
        )

    proof = _proof(values)
    if isinstance(proof, str):
        return again(proof, 400)
    try:
        result = await rpc.call("auth.mfa_verify", {"mfa_token": mfa_token, **proof})
    except InvalidToken:
        return pages.login_page(request_id, name, target, message=EXPIRED, status=401)
    except InvalidCredentials as exc:
        return again(exc.message, 401)
    except ValidationFailed as exc:
        if "mfa_token" in exc.details:
            return pages.login_page(request_id, name, target, message=EXPIRED, status=401)
        return again("That is neither a 6-digit code nor a recovery code", 400)
    except RateLimited:
        return again("Too many wrong codes; wait a moment and retry", 429)
    except GatehouseError as exc:
        if exc.code.startswith("account_") or exc.code == "email_not_verified":
            return pages.login_page(request_id, name, target, message=exc.message, status=403)
        raise
    return await finish(request, request_id, result["token"])
