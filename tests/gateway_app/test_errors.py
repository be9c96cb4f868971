"""gateway_app/errors.py: every error in one shape, with its status from one table."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sanic import Request, Sanic
from sanic import exceptions as sanic_exceptions
from sanic.compat import Header
from sanic.response import HTTPResponse

from common import errors
from common.errors import HTTP_STATUS, GatehouseError
from gateway_app.errors import as_gatehouse_error, error_body, render_error

APP: Sanic[Any, Any] = Sanic("gatehouse_test_errors", configure_logging=False)

# (status, Retry-After expected) for every error the contract knows.
EXPECTED: dict[type[GatehouseError], tuple[int, bool]] = {
    errors.GatehouseError: (500, False),
    errors.BadRequest: (400, False),
    errors.ValidationFailed: (400, False),
    errors.Unauthorized: (401, False),
    errors.InvalidCredentials: (401, False),
    errors.InvalidToken: (401, False),
    errors.Forbidden: (403, False),
    errors.AccountDisabled: (403, False),
    errors.EmailNotVerified: (403, False),
    errors.NotFound: (404, False),
    errors.MethodNotAllowed: (405, False),
    errors.Conflict: (409, False),
    errors.PayloadTooLarge: (413, False),
    errors.RateLimited: (429, False),
    errors.UnknownMethod: (501, False),
    errors.ServiceUnavailable: (503, True),
    errors.NoResponders: (503, True),
    errors.Overloaded: (503, True),
    errors.DeadlineExceeded: (504, False),
    errors.RemoteError: (500, False),
    errors.UnsupportedMediaType: (415, False),
    errors.HeaderFieldsTooLarge: (431, False),
    errors.ClientClosed: (499, False),
    errors.InvalidResetToken: (400, False),
    errors.InvalidEmailToken: (400, False),
    errors.InvalidPasskey: (400, False),
    # Rendered in RFC 6749's shape by the /oauth routes; 400 when it reaches the table.
    errors.OAuthError: (400, False),
}

EXPECTED_CODES = {
    "oauth_error": 400,
    "validation_error": 400,
    "bad_request": 400,
    "unauthorized": 401,
    "invalid_credentials": 401,
    "invalid_token": 401,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "payload_too_large": 413,
    "rate_limited": 429,
    "unknown_method": 501,
    "service_unavailable": 503,
    "no_responders": 503,
    "overloaded": 503,
    "deadline_exceeded": 504,
    "internal_error": 500,
    "unsupported_media_type": 415,
    "request_header_fields_too_large": 431,
    "client_closed": 499,
    "invalid_reset_token": 400,
    "forbidden": 403,
    "account_disabled": 403,
    "email_not_verified": 403,
    "invalid_email_token": 400,
    "invalid_passkey": 400,
}


def all_subclasses(cls: type[GatehouseError]) -> set[type[GatehouseError]]:
    found = {cls}
    for sub in cls.__subclasses__():
        found |= all_subclasses(sub)
    return found


def make_request(headers: dict[str, str] | None = None, path: str = "/api/x") -> Request:
    return Request(path.encode(), Header(headers or {}), "1.1", "GET", None, APP)


def body_of(response: HTTPResponse) -> dict[str, Any]:
    assert response.body is not None
    decoded: dict[str, Any] = json.loads(response.body)
    return decoded


def test_every_error_class_has_an_expected_status() -> None:
    assert all_subclasses(GatehouseError) == set(EXPECTED)


def test_the_status_table_holds_the_contracts_numbers() -> None:
    assert HTTP_STATUS == EXPECTED_CODES


@pytest.mark.parametrize(
    ("error_class", "expected"), list(EXPECTED.items()), ids=lambda v: getattr(v, "__name__", "")
)
def test_each_error_renders_its_status_and_shape(
    error_class: type[GatehouseError], expected: tuple[int, bool]
) -> None:
    status, retry_after = expected
    request = make_request()
    request.ctx.request_id = "req-123"

    response = render_error(request, error_class("Something specific", {"field": ["why"]}))

    assert response.status == status
    assert response.content_type == "application/json"
    assert body_of(response) == {
        "success": False,
        "error": {
            "code": error_class.code,
            "message": "Something specific",
            "details": {"field": ["why"]},
        },
        "request_id": "req-123",
    }
    assert response.headers["X-Request-ID"] == "req-123"
    assert ("Retry-After" in response.headers) is retry_after
    if retry_after:
        assert response.headers["Retry-After"] == "1"


@pytest.mark.parametrize("error_class", list(EXPECTED), ids=lambda cls: cls.__name__)
def test_default_messages_and_empty_details(error_class: type[GatehouseError]) -> None:
    body = body_of(render_error(make_request(), error_class()))

    assert body["error"]["message"] == error_class.default_message
    assert body["error"]["details"] == {}


def test_retry_after_from_the_errors_details() -> None:
    error = errors.RateLimited("Too many failed logins", {"retry_after": 30})

    response = render_error(make_request(), error)

    assert response.status == 429
    assert response.headers["Retry-After"] == "30"
    assert body_of(response)["error"]["details"] == {"retry_after": 30}


@pytest.mark.parametrize("odd", ["30", 2.5, None, [30]])
def test_retry_after_details_that_are_not_whole_numbers_are_ignored(odd: Any) -> None:
    response = render_error(make_request(), errors.RateLimited(details={"retry_after": odd}))

    assert response.status == 429
    assert "Retry-After" not in response.headers


def test_an_unexpected_exception_is_a_500_without_internals() -> None:
    request = make_request()
    request.ctx.request_id = "req-500"
    try:
        raise RuntimeError("password=hunter2 at /srv/app/secret.py line 7")
    except RuntimeError as exc:
        response = render_error(request, exc)

    assert response.status == 500
    assert body_of(response) == {
        "success": False,
        "error": {"code": "internal_error", "message": "Internal server error", "details": {}},
        "request_id": "req-500",
    }
    assert response.body is not None
    for leak in (b"hunter2", b"secret.py", b"Traceback", b"RuntimeError"):
        assert leak not in response.body
    assert "Retry-After" not in response.headers


@pytest.mark.parametrize(
    ("exception", "status", "code"),
    [
        (sanic_exceptions.NotFound("Requested URL /nope not found"), 404, "not_found"),
        (
            sanic_exceptions.MethodNotAllowed("no", "POST", ["GET", "HEAD"]),
            405,
            "method_not_allowed",
        ),
        (
            sanic_exceptions.PayloadTooLarge("Request body exceeds the size limit"),
            413,
            "payload_too_large",
        ),
        (
            sanic_exceptions.PayloadTooLarge("Request header exceeds the size limit"),
            431,
            "request_header_fields_too_large",
        ),
        (sanic_exceptions.RequestCancelled(), 499, "client_closed"),
        (sanic_exceptions.BadRequest("bad"), 400, "bad_request"),
        (sanic_exceptions.ServiceUnavailable("later"), 503, "service_unavailable"),
        (sanic_exceptions.SanicException("teapot", status_code=418), 400, "bad_request"),
        (sanic_exceptions.SanicException("server side", status_code=500), 500, "internal_error"),
    ],
    ids=["404", "405", "413", "431", "499", "400", "503", "other-4xx", "5xx"],
)
def test_sanic_exceptions_are_translated(exception: BaseException, status: int, code: str) -> None:
    response = render_error(make_request(), exception)

    body = body_of(response)
    assert response.status == status
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert set(body["error"]) == {"code", "message", "details"}


def test_method_not_allowed_keeps_the_allow_header() -> None:
    response = render_error(
        make_request(), sanic_exceptions.MethodNotAllowed("no", "DELETE", ["GET", "POST"])
    )

    assert response.status == 405
    assert response.headers["Allow"] == "GET, POST"


def test_sanic_messages_do_not_replace_our_own() -> None:
    body = body_of(render_error(make_request(), sanic_exceptions.NotFound("/internal/path")))

    assert body["error"]["message"] == "Not found"


def test_the_request_id_comes_from_the_header_when_the_context_has_none() -> None:
    response = render_error(make_request({"X-Request-ID": "client-id-42"}), errors.NotFound())

    assert body_of(response)["request_id"] == "client-id-42"
    assert response.headers["X-Request-ID"] == "client-id-42"


@pytest.mark.parametrize("unsafe", ["has space", "x" * 129, "new\u2028line", "semi;colon"])
def test_an_unsafe_request_id_header_is_replaced(unsafe: str) -> None:
    response = render_error(make_request({"X-Request-ID": unsafe}), errors.NotFound())

    request_id = body_of(response)["request_id"]
    assert request_id != unsafe
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert response.headers["X-Request-ID"] == request_id


def test_a_request_id_is_made_when_there_is_none() -> None:
    response = render_error(make_request(), errors.Conflict())

    assert re.fullmatch(r"[0-9a-f]{32}", body_of(response)["request_id"])


def test_as_gatehouse_error_passes_our_errors_through() -> None:
    error = errors.Conflict("taken")

    assert as_gatehouse_error(error) is error
    assert isinstance(as_gatehouse_error(KeyError("x")), errors.RemoteError)


def test_error_body_shape() -> None:
    body = error_body(
        errors.ValidationFailed(details={"email": ["Not a valid email address."]}), "r"
    )

    assert body == {
        "success": False,
        "error": {
            "code": "validation_error",
            "message": "Validation failed",
            "details": {"email": ["Not a valid email address."]},
        },
        "request_id": "r",
    }
