"""gateway_app/responses.py: headers encoded once go out exactly as Sanic would send them."""

from __future__ import annotations

from sanic.response import HTTPResponse

from gateway_app.browser import SECURITY_HEADERS
from gateway_app.responses import EncodedHeadersResponse, encode_once, json_response


def wire(response: HTTPResponse) -> list[tuple[bytes, bytes]]:
    return list(response.processed_headers)


def test_fixed_and_other_headers_encode_as_sanic_does() -> None:
    for name, value in SECURITY_HEADERS.items():
        encode_once(name, value)
    headers = {
        **SECURITY_HEADERS,
        "X-Request-ID": "req-1",
        # Sanic strips CR, LF and NUL from values; so must the fast path.
        "X-Odd": "a\r\nInjected: yes\x00",
        "Cache-Control": "no-store",
    }

    ours = EncodedHeadersResponse(b"{}", headers=headers, content_type="application/json")
    sanic = HTTPResponse(b"{}", headers=headers, content_type="application/json")

    assert wire(ours) == wire(sanic)
    assert (b"X-Odd", b"aInjected: yes") in wire(ours)


def test_a_changed_value_of_a_fixed_header_is_encoded_afresh() -> None:
    encode_once("Content-Security-Policy", SECURITY_HEADERS["Content-Security-Policy"])
    own = "default-src 'self'"

    response = EncodedHeadersResponse(b"", headers={"Content-Security-Policy": own})

    assert (b"Content-Security-Policy", own.encode()) in wire(response)


def test_json_response_has_its_content_type_and_body() -> None:
    response = json_response({"ok": True}, status=201)

    assert response.status == 201
    assert response.body == b'{"ok":true}'
    assert (b"content-type", b"application/json") in wire(response)
