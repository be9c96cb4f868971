"""Every error the gateway answers, rendered in one shape from one table.

``common.errors.HTTP_STATUS`` decides the status; Sanic's own exceptions
(unknown route, wrong method, body too large) are first translated into our
errors so they come out in the same shape as everything else.
"""

from __future__ import annotations

from loguru import logger
from sanic import Request
from sanic.exceptions import PayloadTooLarge as SanicPayloadTooLarge
from sanic.exceptions import RequestCancelled, SanicException
from sanic.response import HTTPResponse

from common.context import accept_request_id
from common.errors import (
    RETRYABLE_CODES,
    BadRequest,
    ClientClosed,
    GatehouseError,
    HeaderFieldsTooLarge,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RemoteError,
    ServiceUnavailable,
    error_body,
    http_status,
)
from gateway_app.responses import json_response

RETRY_AFTER_SECONDS = "1"
# How Sanic tells a head over REQUEST_MAX_HEADER_SIZE from a body over the
# limit: same exception, this message (sanic/http/http1.py).
SANIC_HEADER_TOO_LARGE = "Request header exceeds the size limit"

_FROM_SANIC_STATUS: dict[int, type[GatehouseError]] = {
    400: BadRequest,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    503: ServiceUnavailable,
}


def as_gatehouse_error(exc: BaseException) -> GatehouseError:
    if isinstance(exc, GatehouseError):
        return exc
    if isinstance(exc, RequestCancelled):
        return ClientClosed()
    if isinstance(exc, SanicPayloadTooLarge) and str(exc) == SANIC_HEADER_TOO_LARGE:
        return HeaderFieldsTooLarge()
    if isinstance(exc, SanicException):
        cls = _FROM_SANIC_STATUS.get(exc.status_code)
        if cls is not None:
            return cls()
        if 400 <= exc.status_code < 500:
            return BadRequest(str(exc) or None)
    return RemoteError()


def render_error(request: Request, exc: BaseException) -> HTTPResponse:
    error = as_gatehouse_error(exc)
    if isinstance(error, RemoteError) and not isinstance(exc, GatehouseError):
        # A 500 is a bug: keep the traceback in the log, never in the response.
        logger.opt(exception=exc).error("unhandled error on {} {}", request.method, request.path)
    request_id = getattr(request.ctx, "request_id", None) or accept_request_id(
        request.headers.get("x-request-id")
    )
    headers = {"X-Request-ID": request_id}
    if error.code in RETRYABLE_CODES:
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    if isinstance(error.details.get("retry_after"), int):
        headers["Retry-After"] = str(error.details["retry_after"])
    if error.code == MethodNotAllowed.code and isinstance(exc, SanicException) and exc.headers:
        headers.update({str(k): str(v) for k, v in exc.headers.items()})
    return json_response(
        error_body(error, request_id), status=http_status(error.code), headers=headers
    )
