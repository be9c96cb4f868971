"""The one HTTP port a worker opens: ``GET /health`` (200 or 503, with its
dependencies), ``GET /health/live`` (200 while the process answers) and,
when given, ``GET /metrics`` (Prometheus text).

Deliberately tiny (asyncio streams, HTTP/1.0 style: one request per
connection) so that a worker carries no web framework and exposes nothing
but its health. Same rules as the gateway: HEAD works wherever GET does,
every error has the documented shape and echoes the request id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from loguru import logger
from prometheus_client import CONTENT_TYPE_LATEST

from common import json_codec
from common.context import accept_request_id
from common.errors import (
    BadRequest,
    GatehouseError,
    HeaderFieldsTooLarge,
    MethodNotAllowed,
    NotFound,
    error_body,
    http_status,
)

HealthCheck = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]
# Renders the process's metrics in the Prometheus text format.
MetricsRenderer = Callable[[], Awaitable[bytes]]
JSON = "application/json"
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}
_READ_SECONDS = 5
# A probe sends a handful of headers; more is not a probe.
MAX_HEADER_LINES = 100
MAX_LINE_BYTES = 8192
READ_METHODS = ("GET", "HEAD")


class HealthServer:
    def __init__(
        self,
        check: HealthCheck,
        *,
        host: str,
        port: int,
        metrics: MetricsRenderer | None = None,
    ) -> None:
        self._check = check
        self._metrics = metrics
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self._host, self._port, limit=MAX_LINE_BYTES
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        method = ""
        headers: dict[str, str] = {}
        try:
            try:
                method, path = _request_line(await _read_line(reader))
                headers = await _read_headers(reader)
                status, payload, content_type = await self._answer(method, path)
                request_id = accept_request_id(headers.get("x-request-id"))
            except GatehouseError as error:
                request_id = accept_request_id(headers.get("x-request-id"))
                status, content_type = http_status(error.code), JSON
                payload = json_codec.dumps(error_body(error, request_id))
            writer.write(
                f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(payload)}\r\nX-Request-ID: {request_id}\r\n"
                "Connection: close\r\n\r\n".encode()
                + (b"" if method == "HEAD" else payload)
            )
            await writer.drain()
        except (TimeoutError, ConnectionError) as exc:
            logger.debug("health request abandoned: {}", exc)
        finally:
            writer.close()

    async def _answer(self, method: str, path: str) -> tuple[int, bytes, str]:
        """Status, payload and content type of a request that parsed."""
        if path == "/metrics" and self._metrics is not None:
            if method not in READ_METHODS:
                raise MethodNotAllowed()
            return 200, await self._metrics(), CONTENT_TYPE_LATEST
        status, body = await self._respond(method, path)
        return status, json_codec.dumps(body), JSON

    async def _respond(self, method: str, path: str) -> tuple[int, dict[str, Any]]:
        if path not in ("/health", "/health/live"):
            raise NotFound()
        if method not in READ_METHODS:
            raise MethodNotAllowed()
        if path == "/health/live":
            # Liveness: the loop answers. Dependencies are /health's business, so a
            # database outage does not get every worker restarted.
            return 200, {"status": "alive"}
        healthy, body = await self._check()
        return (200 if healthy else 503), body


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    try:
        return await asyncio.wait_for(reader.readline(), _READ_SECONDS)
    except ValueError:  # longer than the stream's limit
        raise HeaderFieldsTooLarge() from None


def _request_line(line: bytes) -> tuple[str, str]:
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise BadRequest("Malformed request line")
    return parts[0], parts[1].split("?")[0]


async def _read_headers(reader: asyncio.StreamReader) -> dict[str, str]:
    """The headers, last one wins; a health probe sends no body."""
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADER_LINES):
        line = await _read_line(reader)
        if line in (b"\r\n", b"\n", b""):
            return headers
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    raise HeaderFieldsTooLarge()
