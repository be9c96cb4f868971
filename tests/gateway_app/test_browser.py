"""gateway_app/browser.py: the headers are defaults a route can override."""

from __future__ import annotations

from typing import Any

from sanic import Request, Sanic
from sanic.compat import Header
from sanic.response import HTTPResponse

from common.config import Settings
from gateway_app import browser

APP: Sanic[Any, Any] = Sanic("gatehouse_test_browser", configure_logging=False)
APP.ctx.settings = Settings.from_env({"CORS_ORIGINS": "https://app.example.com"})


def request(path: str = "/api/x", **headers: str) -> Request:
    return Request(path.encode(), Header(headers), "1.1", "GET", None, APP)


async def test_a_routes_own_csp_and_frame_policy_are_kept() -> None:
    own = "default-src 'self'; script-src 'self'"
    response = HTTPResponse(
        "<html></html>",
        content_type="text/html",
        headers={"Content-Security-Policy": own, "X-Frame-Options": "SAMEORIGIN"},
    )

    await browser._decorate(request("/account"), response)

    assert response.headers["Content-Security-Policy"] == own
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Cache-Control" not in response.headers


async def test_vary_keeps_what_the_route_put_there() -> None:
    response = HTTPResponse("{}", headers={"Vary": "Accept-Encoding"})

    await browser._decorate(request(), response)

    assert response.headers["Vary"] == "Accept-Encoding, Origin"


def test_origins_match_exactly() -> None:
    assert browser.allowed_origin(request(origin="https://app.example.com")) is not None
    for near_miss in (
        "https://APP.example.com",
        "http://app.example.com",
        "https://app.example.com/",
    ):
        assert browser.allowed_origin(request(origin=near_miss)) is None
