"""What the provider's pages share: the browser cookie, the form posts' checks,
and rendering the worker's next step (an error page, a redirect, or a page)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sanic import Request
from sanic.response import HTTPResponse

from common.config import Settings
from common.errors import OAuthError, ValidationFailed
from gateway_app.oauth import pages
from gateway_app.oauth.forms import form_fields

COOKIE = "gatehouse_op"


def issuer(request: Request) -> str:
    settings: Settings = request.app.ctx.settings
    return settings.oidc.issuer


def browser(request: Request) -> str | None:
    value = request.cookies.get(COOKIE)
    return value if value and len(value) <= 512 else None


def same_origin(request: Request) -> bool:
    """A form post from our own pages (login CSRF defence): Origin, when sent, is ours."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    ours = urlsplit(issuer(request))
    return bool(origin == f"{ours.scheme}://{ours.netloc}")


def redirect(location: str, status: int = 302) -> HTTPResponse:
    return HTTPResponse(status=status, headers={"Location": location, "Cache-Control": "no-store"})


def with_cookie(response: HTTPResponse, request: Request, value: str | None) -> HTTPResponse:
    secure = request.app.ctx.settings.oidc.secure_cookies
    if value is None:
        response.add_cookie(
            COOKIE, "", path="/oauth", max_age=0, httponly=True, secure=secure, samesite="Lax"
        )
    else:
        response.add_cookie(
            COOKIE, value, path="/oauth", httponly=True, secure=secure, samesite="Lax"
        )
    return response


def answer(result: dict[str, Any], *, see_other: bool = False) -> HTTPResponse:
    """Render the worker's next step: an error page, a redirect, or a page."""
    if "show_error" in result:
        return pages.error_page(result["show_error"])
    if "redirect" in result:
        return redirect(result["redirect"], 303 if see_other else 302)
    if result.get("page") == "consent":
        return pages.consent_page(
            result["request_id"], result["client_name"], result["scopes"], result["redirect_uri"]
        )
    return pages.login_page(result["request_id"], result["client_name"], result["redirect_uri"])


async def form_or_page(request: Request) -> dict[str, str] | HTTPResponse:
    if not same_origin(request):
        return pages.error_page("This form was sent from another site", status=403)
    try:
        values, _ = form_fields(request)
    except OAuthError as error:
        return pages.error_page(error.message)
    if not values.get("request_id"):
        return pages.error_page("The form names no sign-in request")
    return values


@dataclass(frozen=True, slots=True)
class PendingForm:
    """A sign-in page's form post and the authorization request it continues."""

    values: dict[str, str]
    request_id: str
    client_name: str
    redirect_uri: str


async def pending_form(request: Request) -> PendingForm | HTTPResponse:
    """The login and second-factor posts' common start; a page when the form or
    the authorization request it names is not right."""
    values = await form_or_page(request)
    if isinstance(values, HTTPResponse):
        return values
    request_id = values["request_id"]
    try:
        pending = await request.app.ctx.rpc.call("auth.oidc_pending", {"request_id": request_id})
    except ValidationFailed:
        return pages.error_page("The form is malformed")
    if "show_error" in pending:
        return pages.error_page(pending["show_error"])
    return PendingForm(values, request_id, pending["client_name"], pending["redirect_uri"])
