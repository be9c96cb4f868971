"""The API document, its offline docs page, and the account page.

``/openapi.json`` is built once at start-up from the routes the app serves.
``/docs`` is Swagger UI from the ``swagger-ui-py`` wheel and ``/`` (also
``/account``) our own plain HTML, CSS and JavaScript: no CDN, no build step.
Pages and assets carry their own Content-Security-Policy, which allows only
our own scripts and styles (no inline code), and JSON calls to this origin.
"""

from __future__ import annotations

import asyncio
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sanic import Request, Sanic
from sanic.response import HTTPResponse

from common.errors import NotFound
from gateway_app.api_doc import Content, documented
from gateway_app.openapi import build_document
from gateway_app.responses import json_response

STATIC = Path(__file__).with_name("static")
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
HTML = "text/html; charset=utf-8"
_MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
# Swagger UI's files that /docs needs; the wheel holds more (its editor, maps).
SWAGGER_FILES = ("swagger-ui.css", "swagger-ui-bundle.js")
OWN_ASSETS = ("account.css", "account.js", "docs.css", "docs.js", "account-apps.js")


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str


def register_pages_routes(app: Sanic[Any, Any]) -> None:
    app.register_listener(_load, "before_server_start")
    app.add_route(openapi_document, "/openapi.json", methods=["GET"])
    app.add_route(docs_page, "/docs", methods=["GET"])
    app.add_route(account_page, "/", methods=["GET"])
    app.add_route(account_page, "/account", methods=["GET"], name="account_page_alias")
    app.add_route(asset, "/assets/<name:str>", methods=["GET"])


def swagger_ui_folder() -> Path:
    # Found without importing swagger_ui, which would pull in its web-framework glue.
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed; /docs needs its static files")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def load_assets() -> tuple[dict[str, bytes], dict[str, Asset]]:
    """(pages by name, assets by name), read from package data."""
    pages = {name: (STATIC / name).read_bytes() for name in ("account.html", "docs.html")}
    files = [STATIC / name for name in OWN_ASSETS]
    files += [swagger_ui_folder() / name for name in SWAGGER_FILES]
    assets = {path.name: Asset(path.read_bytes(), _MEDIA_TYPES[path.suffix]) for path in files}
    return pages, assets


async def _load(app: Sanic[Any, Any]) -> None:
    # Every route is registered by now, whichever module added it.
    app.ctx.openapi = build_document(app)
    app.ctx.pages, app.ctx.assets = await asyncio.to_thread(load_assets)


def _page_headers(cache: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": PAGE_CSP,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": cache,
    }


@documented("This API document (OpenAPI 3.1)", responses={200: Content(("application/json",))})
async def openapi_document(request: Request) -> HTTPResponse:
    return json_response(request.app.ctx.openapi)


@documented(
    "Interactive API documentation (Swagger UI, served offline)",
    responses={200: Content(("text/html",))},
)
async def docs_page(request: Request) -> HTTPResponse:
    return _page(request, "docs.html")


@documented(
    "The account page: register, log in, profile, password, sessions",
    responses={200: Content(("text/html",))},
)
async def account_page(request: Request) -> HTTPResponse:
    return _page(request, "account.html")


@documented(
    "A script or stylesheet of the account or docs page",
    responses={200: Content(("text/css", "text/javascript"))},
    errors=[NotFound],
)
async def asset(request: Request, name: str) -> HTTPResponse:
    found: Asset | None = request.app.ctx.assets.get(name)
    if found is None:
        raise NotFound("No such asset")
    return HTTPResponse(
        found.body, content_type=found.media_type, headers=_page_headers("public, max-age=300")
    )


def _page(request: Request, name: str) -> HTTPResponse:
    body: bytes = request.app.ctx.pages[name]
    return HTTPResponse(body, content_type=HTML, headers=_page_headers("no-cache"))
