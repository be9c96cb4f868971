"""The provider's routes: discovery, authorize (with its login and consent
pages), token, UserInfo, revocation, introspection and RP-initiated logout."""

from __future__ import annotations

from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse

from common.accounts.oidc_clients import USER_SCOPES
from common.errors import (
    GatehouseError,
    InvalidCredentials,
    OAuthError,
    RateLimited,
    ValidationFailed,
)
from gateway_app.api_doc import Content, documented
from gateway_app.oauth import pages, replies, second_factor, web
from gateway_app.oauth.answers import oauth_error, oauth_json, rfc_errors
from gateway_app.oauth.forms import client_auth, form_fields, query_fields
from gateway_app.responses import json_response

DISCOVERY_PATH = "/.well-known/openid-configuration"
HTML_PAGE = Content(("text/html",))
REDIRECT = Content((), "Redirect (to the app, or back to this page)")
OAUTH_ERROR = replies.OAuthErrorReply
AUTHORIZE_PARAMS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
)


def register_oauth_routes(app: Sanic[Any, Any]) -> None:
    if not app.ctx.settings.oidc.enabled:
        return
    app.add_route(discovery, DISCOVERY_PATH, methods=["GET"])
    app.add_route(authorize, "/oauth/authorize", methods=["GET"], name="oauth_authorize")
    app.add_route(login_form, "/oauth/login", methods=["POST"], name="oauth_login_form")
    app.add_route(
        second_factor.login_mfa_form,
        "/oauth/login/mfa",
        methods=["POST"],
        name="oauth_login_mfa_form",
    )
    app.add_route(consent_form, "/oauth/consent", methods=["POST"], name="oauth_consent_form")
    app.add_route(token, "/oauth/token", methods=["POST"], name="oauth_token")
    app.add_route(userinfo, "/oauth/userinfo", methods=["GET", "POST"], name="oauth_userinfo")
    app.add_route(revoke, "/oauth/revoke", methods=["POST"], name="oauth_revoke")
    app.add_route(introspect, "/oauth/introspect", methods=["POST"], name="oauth_introspect")
    app.add_route(logout, "/oauth/logout", methods=["GET", "POST"], name="oauth_logout")


@documented("OpenID Connect discovery document", responses={200: replies.DiscoveryReply})
async def discovery(request: Request) -> HTTPResponse:
    issuer = web.issuer(request)
    algorithm = request.app.ctx.settings.auth.jwt_algorithm
    return json_response(
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/oauth/authorize",
            "token_endpoint": f"{issuer}/oauth/token",
            "userinfo_endpoint": f"{issuer}/oauth/userinfo",
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "revocation_endpoint": f"{issuer}/oauth/revoke",
            "introspection_endpoint": f"{issuer}/oauth/introspect",
            "end_session_endpoint": f"{issuer}/oauth/logout",
            "scopes_supported": list(USER_SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [algorithm],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "introspection_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "amr",
                "azp",
                "sid",
                "name",
                "preferred_username",
                "email",
                "email_verified",
            ],
            "prompt_values_supported": ["none", "login", "consent"],
            "authorization_response_iss_parameter_supported": True,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "claims_parameter_supported": False,
        },
        headers={"Cache-Control": "public, max-age=300"},
    )


@documented(
    "OAuth 2.0 authorization endpoint (code flow with PKCE S256)",
    description="Shows the login or consent page, or redirects to the app with a code or an error.",
    responses={200: HTML_PAGE, 302: REDIRECT, 400: HTML_PAGE},
    rpc=True,
)
async def authorize(request: Request) -> HTTPResponse:
    try:
        values, duplicates = query_fields(request)
    except OAuthError as error:
        return pages.error_page(error.message)
    params: dict[str, Any] = {name: values.get(name) for name in AUTHORIZE_PARAMS}
    params |= {"duplicates": duplicates, "browser": web.browser(request)}
    try:
        result = await request.app.ctx.rpc.call("auth.oidc_authorize", params)
    except ValidationFailed:
        return pages.error_page("The request's parameters are malformed")
    return web.answer(result)


@documented(
    "The login page's form post (password checked like /api/auth/login)",
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
async def login_form(request: Request) -> HTTPResponse:
    form = await web.pending_form(request)
    if isinstance(form, HTTPResponse):
        return form
    rpc = request.app.ctx.rpc
    values, request_id = form.values, form.request_id
    name, target = form.client_name, form.redirect_uri
    try:
        result = await rpc.call(
            "auth.login",
            {"username": values.get("username", ""), "password": values.get("password", "")},
        )
    except (InvalidCredentials, ValidationFailed):
        return pages.login_page(
            request_id, name, target, message="Invalid username or password", status=401
        )
    except RateLimited:
        return pages.login_page(
            request_id,
            name,
            target,
            message="Too many failed logins; wait a moment and retry",
            status=429,
        )
    except GatehouseError as exc:
        if exc.code.startswith("account_") or exc.code == "email_not_verified":
            return pages.login_page(request_id, name, target, message=exc.message, status=403)
        raise
    if "token" not in result:
        # A second factor is due (the mfa_required answer): its page, or a
        # refusal when this page cannot take the account's factor.
        return second_factor.challenge_page(request_id, name, target, result)
    return await second_factor.finish(request, request_id, result["token"])


@documented(
    "The consent page's form post (allow or deny)",
    responses={200: HTML_PAGE, 303: REDIRECT, 400: HTML_PAGE, 403: HTML_PAGE},
    rpc=True,
)
async def consent_form(request: Request) -> HTTPResponse:
    values = await web.form_or_page(request)
    if isinstance(values, HTTPResponse):
        return values
    decision = values.get("decision")
    if decision not in ("allow", "deny"):
        return pages.error_page("The form must say allow or deny")
    try:
        result = await request.app.ctx.rpc.call(
            "auth.oidc_consent",
            {
                "request_id": values["request_id"],
                "browser": web.browser(request),
                "allow": decision == "allow",
            },
        )
    except ValidationFailed:
        return pages.error_page("The form is malformed")
    return web.answer(result, see_other=True)


def _mark_rpc(request: Request) -> None:
    request.ctx.oauth_rpc_done = True


@documented(
    "OAuth 2.0 token endpoint (form-encoded; RFC 6749 errors)",
    responses={200: replies.TokenReply, 400: OAUTH_ERROR, 401: OAUTH_ERROR},
    rpc=True,
)
@rfc_errors("token")
async def token(request: Request) -> HTTPResponse:
    values, duplicates = form_fields(request)
    names = ("grant_type", "redirect_uri", "code_verifier", "refresh_token", "scope")
    params: dict[str, Any] = {name: values.get(name) for name in names}
    params["authorization_code"] = values.get("code")
    params |= client_auth(request, values) | {"duplicates": duplicates}
    _mark_rpc(request)
    result = await request.app.ctx.rpc.call("auth.oidc_token", params)
    result.pop("expires_at", None)
    return oauth_json(result)


async def _token_use(request: Request, method: str) -> dict[str, Any]:
    values, duplicates = form_fields(request)
    if duplicates:
        raise OAuthError.of("invalid_request", f"Parameter given twice: {duplicates[0]}")
    params = {"token": values.get("token"), "token_type_hint": values.get("token_type_hint")}
    params |= client_auth(request, values)
    _mark_rpc(request)
    result: dict[str, Any] = await request.app.ctx.rpc.call(method, params)
    return result


@documented(
    "Token revocation (RFC 7009)",
    responses={200: replies.EmptyReply, 400: OAUTH_ERROR, 401: OAUTH_ERROR},
    rpc=True,
)
@rfc_errors("revoke")
async def revoke(request: Request) -> HTTPResponse:
    await _token_use(request, "auth.oidc_revoke")
    return oauth_json({})


@documented(
    "Token introspection (RFC 7662; client-authenticated)",
    responses={200: replies.IntrospectionReply, 400: OAUTH_ERROR, 401: OAUTH_ERROR},
    rpc=True,
)
@rfc_errors("introspect")
async def introspect(request: Request) -> HTTPResponse:
    return oauth_json(await _token_use(request, "auth.oidc_introspect"))


@documented(
    "OpenID Connect UserInfo (Authorization: Bearer <app access token>)",
    responses={200: replies.UserInfoReply, 400: OAUTH_ERROR, 401: OAUTH_ERROR},
    rpc=True,
)
@rfc_errors("userinfo", bearer=True)
async def userinfo(request: Request) -> HTTPResponse:
    scheme, _, access = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not access.strip():
        raise OAuthError.of(
            "invalid_token", "Send the access token as Authorization: Bearer", status=401
        )
    _mark_rpc(request)
    result = await request.app.ctx.rpc.call("auth.oidc_userinfo", {"access_token": access.strip()})
    return oauth_json(result)


@documented(
    "RP-initiated logout (end_session_endpoint)",
    responses={200: HTML_PAGE, 302: REDIRECT, 303: REDIRECT, 400: HTML_PAGE, 403: HTML_PAGE},
    rpc=True,
)
async def logout(request: Request) -> HTTPResponse:
    if request.method == "POST":
        if not web.same_origin(request):
            return pages.error_page("This form was sent from another site", status=403)
        values: dict[str, str] = {}
        if request.body:
            try:
                values, _ = form_fields(request)
            except OAuthError as error:
                return pages.error_page(error.message)
    else:
        try:
            values, _ = query_fields(request)
        except OAuthError as error:
            return pages.error_page(error.message)
        if not values.get("id_token_hint"):
            # Without proof that the app asks, a link alone must not log anyone out.
            return pages.logout_confirm_page()
    names = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state")
    params: dict[str, Any] = {name: values.get(name) for name in names}
    params["browser"] = web.browser(request)
    try:
        result = await request.app.ctx.rpc.call("auth.oidc_end_session", params)
    except ValidationFailed:
        return pages.error_page("The logout request is malformed")
    if "show_error" in result:
        return pages.error_page(result["show_error"])
    response = (
        web.redirect(result["redirect"], 303) if "redirect" in result else pages.logged_out_page()
    )
    return web.with_cookie(response, request, None)


__all__ = ["oauth_error", "register_oauth_routes"]
