"""What a request must pass before any route sees it.

Every refusal here is a 4xx in the error shape, decided before any RPC, so
that a hostile request fails alone and at once.
"""

from __future__ import annotations

import re
from typing import Any

from loguru import logger
from sanic import Request, Sanic
from sanic.response import HTTPResponse

from common.errors import BadRequest, HeaderFieldsTooLarge, UnsupportedMediaType
from gateway_app import browser
from gateway_app.oauth.forms import FORM_PATHS

# application/json, or a structured suffix such as application/problem+json;
# parameters (charset=...) after a semicolon are allowed.
_JSON_MEDIA_TYPE = re.compile(r"application/(?:[A-Za-z0-9.!#$&^_-]+\+)?json", re.IGNORECASE)
# Headers whose second copy would make the request mean two things.
SINGLE_VALUED_HEADERS = ("authorization", "content-type")
# Sanic bounds the head's size (REQUEST_MAX_HEADER_SIZE), not the count of
# headers: a thousand tiny ones fit in 8 KB.
MAX_HEADER_COUNT = 100
_CONTROL_BYTES = re.compile(rb"[\x00-\x1f\x7f]")


class EdgeRequest(Request):
    """A request whose URL held control bytes still gets built (with them
    escaped) so that it can be answered 400 in our shape: httptools refuses
    such a URL, and Sanic then fails to build even its error request."""

    def __init__(self, url_bytes: bytes, *args: Any, **kwargs: Any) -> None:
        escaped = _CONTROL_BYTES.sub(lambda m: b"%%%02X" % m.group()[0], url_bytes)
        super().__init__(escaped, *args, **kwargs)
        self.refused_url: bytes | None = url_bytes if escaped != url_bytes else None


def install_edge(app: Sanic[Any, Any]) -> None:
    """The guard on every request (errors included) and the browser headers on every response."""
    app.register_middleware(_guard, "request")
    browser.install(app)


async def _guard(request: Request) -> HTTPResponse | None:
    refused_url = getattr(request, "refused_url", None)
    if refused_url is not None:
        # One line, bytes escaped: the raw bytes could forge log lines.
        logger.warning("refused a URL holding control bytes: {!r}", refused_url)
        raise BadRequest("The URL holds control characters")
    if len(request.headers) > MAX_HEADER_COUNT:
        raise HeaderFieldsTooLarge(f"More than {MAX_HEADER_COUNT} request headers")
    for name in SINGLE_VALUED_HEADERS:
        if len(request.headers.getall(name, [])) > 1:
            raise BadRequest(f"More than one {name.title()} header")
    preflight = browser.preflight(request)
    if preflight is not None:
        return preflight
    # The OAuth form routes judge their own bodies (RFC 6749: forms only).
    if (
        request.body
        and request.path not in FORM_PATHS
        and not _JSON_MEDIA_TYPE.fullmatch(_media_type(request))
    ):
        raise UnsupportedMediaType()
    return None


def _media_type(request: Request) -> str:
    return (request.headers.get("content-type") or "").partition(";")[0].strip()
