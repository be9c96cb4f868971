"""JSON responses encoded with orjson, with the headers that repeat encoded once.

Sanic encodes every header of every response on its way out, passing name
and value through ``str.translate`` and ``encode`` each: with the browser
headers that every answer carries (``gateway_app/browser.py``), that was
about a tenth of the gateway's CPU per profile request in py-spy. Headers
whose name and value are fixed (the security headers, the content type,
``Cache-Control: no-store``, HSTS) are encoded once, at first use, and reused;
any other header (the request id, the length) is encoded as Sanic does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sanic.helpers import has_message_body
from sanic.response import HTTPResponse

from common import json_codec

JSON = "application/json"
# (name, value) -> their encoded form, as Sanic would send them. Only pairs
# registered with ``encode_once`` go in, so the table stays the size of the
# fixed headers whatever the traffic.
_ENCODED: dict[tuple[str, str], tuple[bytes, bytes]] = {}


def encode_once(name: str, value: str) -> None:
    """Remember the wire form of a header that many responses carry unchanged."""
    _ENCODED[(name, value)] = _encode(name, value)


def _encode(name: str, value: str) -> tuple[bytes, bytes]:
    sanitize = HTTPResponse._sanitize_header_value
    return sanitize(name).encode("ascii"), sanitize(value).encode(errors="surrogateescape")


class EncodedHeadersResponse(HTTPResponse):
    """An HTTPResponse whose repeated headers skip Sanic's per-response encoding."""

    @property
    def processed_headers(self) -> Iterator[tuple[bytes, bytes]]:
        if has_message_body(self.status):  # type: ignore[no-untyped-call]
            self.headers.setdefault("content-type", self.content_type)
        for name, value in self.headers.items():
            encoded = _ENCODED.get((name, value))
            yield encoded if encoded is not None else _encode(name, f"{value}")


encode_once("content-type", JSON)


def json_response(
    body: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> HTTPResponse:
    return EncodedHeadersResponse(
        json_codec.dumps(body), status=status, headers=headers, content_type=JSON
    )
