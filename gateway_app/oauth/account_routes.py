"""JSON API routes of the provider: the caller's apps (account page) and the
client registry (role admin, checked by the auth worker)."""

from __future__ import annotations

from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse

from common.accounts.oidc_schemas import NewClientParams
from common.accounts.schemas import client_view
from common.errors import Forbidden, NotFound, ValidationFailed
from gateway_app.api_doc import NO_CONTENT, documented
from gateway_app.auth import call_as_caller
from gateway_app.oauth import replies
from gateway_app.responses import json_response

NO_STORE = {"Cache-Control": "no-store"}


def register_oauth_account_routes(app: Sanic[Any, Any]) -> None:
    if not app.ctx.settings.oidc.enabled:
        return
    app.add_route(list_apps, "/api/account/apps", methods=["GET"], name="oauth_list_apps")
    app.add_route(
        forget_app, "/api/account/apps/<client_id:str>", methods=["DELETE"], name="oauth_forget_app"
    )
    app.add_route(list_clients, "/api/admin/clients", methods=["GET"], name="oauth_list_clients")
    app.add_route(add_client, "/api/admin/clients", methods=["POST"], name="oauth_add_client")
    app.add_route(
        show_client, "/api/admin/clients/<client_id:str>", methods=["GET"], name="oauth_show_client"
    )
    app.add_route(
        remove_client,
        "/api/admin/clients/<client_id:str>",
        methods=["DELETE"],
        name="oauth_remove_client",
    )
    app.add_route(
        rotate_secret,
        "/api/admin/clients/<client_id:str>/secret",
        methods=["POST"],
        name="oauth_rotate_secret",
    )


@documented(
    "The apps the caller let sign them in (consents)",
    responses={200: replies.AppsReply},
    auth=True,
)
async def list_apps(request: Request) -> HTTPResponse:
    result = await call_as_caller(request, "auth.oidc_apps")
    return json_response({"success": True, **result}, headers=NO_STORE)


@documented(
    "Withdraw consent from an app; every token it holds for the caller ends",
    responses={204: NO_CONTENT},
    errors=[NotFound, ValidationFailed],
    auth=True,
)
async def forget_app(request: Request, client_id: str) -> HTTPResponse:
    await call_as_caller(request, "auth.oidc_forget_app", extra={"client_id": client_id})
    return HTTPResponse(status=204)


@documented(
    "Registered OpenID Connect clients (role admin)",
    responses={200: replies.ClientsReply},
    errors=[Forbidden],
    auth=True,
)
async def list_clients(request: Request) -> HTTPResponse:
    result = await call_as_caller(request, "auth.oidc_clients")
    return json_response({"success": True, **result}, headers=NO_STORE)


@documented(
    "Register a client (role admin); its secret is in this answer only",
    request=client_view(NewClientParams),
    responses={201: replies.NewClientReply},
    errors=[Forbidden],
    auth=True,
)
async def add_client(request: Request) -> HTTPResponse:
    result = await call_as_caller(request, "auth.oidc_add_client", body=True)
    return json_response({"success": True, **result}, status=201, headers=NO_STORE)


@documented(
    "One client (role admin)",
    responses={200: replies.ClientReply},
    errors=[Forbidden, NotFound, ValidationFailed],
    auth=True,
)
async def show_client(request: Request, client_id: str) -> HTTPResponse:
    result = await call_as_caller(request, "auth.oidc_client", extra={"client_id": client_id})
    return json_response({"success": True, **result}, headers=NO_STORE)


@documented(
    "Remove a client and everything issued to it (role admin)",
    responses={204: NO_CONTENT},
    errors=[Forbidden, NotFound, ValidationFailed],
    auth=True,
)
async def remove_client(request: Request, client_id: str) -> HTTPResponse:
    await call_as_caller(request, "auth.oidc_remove_client", extra={"client_id": client_id})
    return HTTPResponse(status=204)


@documented(
    "A new secret for a confidential client; the old one stops working (role admin)",
    responses={200: replies.SecretReply},
    errors=[Forbidden, NotFound, ValidationFailed],
    auth=True,
)
async def rotate_secret(request: Request, client_id: str) -> HTTPResponse:
    result = await call_as_caller(
        request, "auth.oidc_rotate_client", extra={"client_id": client_id}
    )
    return json_response({"success": True, **result}, headers=NO_STORE)
