"""JSON responses encoded with orjson."""

from __future__ import annotations

from typing import Any

from sanic.response import HTTPResponse

from common import json_codec


def json_response(
    body: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> HTTPResponse:
    return HTTPResponse(
        json_codec.dumps(body), status=status, headers=headers, content_type="application/json"
    )
