"""Reading the OAuth routes' form bodies and client authentication.

These are the only routes that read ``application/x-www-form-urlencoded``
(gateway_app/edge.py lets their bodies through and nothing else's); a JSON
body here is RFC 6749's ``invalid_request``, not a 415.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from sanic import Request

from common.errors import OAuthError

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 50
# The routes whose bodies are forms (the edge's exception to JSON-only).
FORM_PATHS = frozenset(
    {
        "/oauth/token",
        "/oauth/revoke",
        "/oauth/introspect",
        "/oauth/login",
        "/oauth/login/mfa",
        "/oauth/consent",
        "/oauth/logout",
        "/oauth/userinfo",
    }
)


def media_type(request: Request) -> str:
    return (request.headers.get("content-type") or "").partition(";")[0].strip().lower()


def form_fields(request: Request) -> tuple[dict[str, str], list[str]]:
    """(first value of each field, names given more than once); invalid_request
    when the body is not a form."""
    if media_type(request) != FORM_MEDIA_TYPE:
        raise OAuthError.of("invalid_request", f"The body must be {FORM_MEDIA_TYPE} (RFC 6749 3.2)")
    try:
        text = request.body.decode("utf-8")
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise OAuthError.of("invalid_request", "The form body cannot be read") from None
    return _first_values(pairs)


def query_fields(request: Request) -> tuple[dict[str, str], list[str]]:
    try:
        pairs = parse_qsl(request.query_string, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise OAuthError.of("invalid_request", "The query string cannot be read") from None
    return _first_values(pairs)


def _first_values(pairs: list[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    values: dict[str, str] = {}
    duplicates: list[str] = []
    for name, value in pairs:
        if name in values:
            duplicates.append(name[:64])
        else:
            values[name] = value
    return values, sorted(set(duplicates))


def client_auth(request: Request, form: dict[str, str]) -> dict[str, Any]:
    """client_id, client_secret and which method sent them (RFC 6749 2.3.1)."""
    scheme, _, credentials = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "basic":
        if "client_secret" in form:
            raise OAuthError.of("invalid_request", "Use one client authentication method, not two")
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError.of(
                "invalid_client", "Malformed HTTP Basic credentials", status=401
            ) from None
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise OAuthError.of("invalid_client", "Malformed HTTP Basic credentials", status=401)
        return {
            "client_id": unquote_plus(client_id),
            "client_secret": unquote_plus(secret),
            "auth_method": "basic",
        }
    if "client_secret" in form:
        return {
            "client_id": form.get("client_id"),
            "client_secret": form["client_secret"],
            "auth_method": "post",
        }
    return {"client_id": form.get("client_id"), "client_secret": None, "auth_method": "none"}
