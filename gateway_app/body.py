"""Reading a request's JSON body, with the documented errors for anything else."""

from __future__ import annotations

from typing import Any

from sanic import Request

from common import json_codec
from common.errors import BadRequest


def json_object(request: Request) -> dict[str, Any]:
    if not request.body:
        raise BadRequest("Request body must be a JSON object")
    try:
        body = json_codec.loads(request.body)
    except json_codec.JSONDecodeError:
        raise BadRequest("Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    return body
