"""Reading a request's JSON body, with the documented errors for anything else."""

from __future__ import annotations

from typing import Any

from sanic import Request

from common import json_codec
from common.errors import BadRequest, ValidationFailed
from gateway_app.api_doc import declared_operation

UNKNOWN_FIELD = "Unknown field."


def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object no deeper than MAX_JSON_DEPTH; 400 otherwise.

    The depth is checked here, before any RPC: a body too deep to encode would
    otherwise fail in the worker's hands, or worse in a batch with others.
    """
    if not request.body:
        raise BadRequest("Request body must be a JSON object")
    try:
        body = json_codec.loads(request.body)
    except json_codec.JSONDecodeError:
        raise BadRequest("Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    limit: int = request.app.ctx.settings.http.max_json_depth
    if depth_exceeds(body, limit):
        raise BadRequest(f"Request body is nested deeper than {limit} levels")
    refuse_undocumented_fields(request, body)
    return body


async def call_with_body(request: Request, method: str) -> Any:
    """Call ``method`` with the request's JSON body as its params (no bearer needed)."""
    return await request.app.ctx.rpc.call(method, json_object(request))


def refuse_undocumented_fields(request: Request, body: dict[str, Any]) -> None:
    """400 for a key the route's documented request schema does not have.

    The API document closes every request body (``additionalProperties:
    false``) from the same declaration, so a client that follows the document
    is never refused here, and a misspelt field is reported, not ignored. The
    workers' schemas still drop unknown keys: what the gateway itself adds
    (the token's ids) is theirs to read.
    """
    operation = declared_operation(request.route.handler) if request.route else None
    if operation is None or operation.request is None:
        return
    unknown = [name for name in body if name not in operation.body_fields]
    if unknown:
        raise ValidationFailed(details={name: [UNKNOWN_FIELD] for name in unknown})


def depth_exceeds(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest deeper than ``limit`` (the outermost is level 1).

    ``value`` is an object or an array. Iterative, so that the check itself
    cannot hit a recursion limit.
    """
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
