"""The one HTTP port a worker opens: ``GET /health`` (200 or 503, with its
dependencies), ``GET /health/live`` (200 while the process answers) and,
when given, ``GET /metrics`` (Prometheus text).

Deliberately tiny (asyncio streams, HTTP/1.0 style: one request per
connection) so that a worker carries no web framework and exposes nothing
but its health.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from loguru import logger
from prometheus_client import CONTENT_TYPE_LATEST

from common import json_codec

HealthCheck = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]
# Renders the process's metrics in the Prometheus text format.
MetricsRenderer = Callable[[], Awaitable[bytes]]
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


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
        self._server = await asyncio.start_server(self._serve, self._host, self._port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 5)
            # Headers are read and ignored; a health probe sends no body.
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            parts = request_line.decode("latin-1").split()
            content_type = "application/json"
            if self._metrics is not None and parts[:2] == ["GET", "/metrics"]:
                status, payload, content_type = 200, await self._metrics(), CONTENT_TYPE_LATEST
            else:
                status, body = await self._respond(parts)
                payload = json_codec.dumps(body)
            writer.write(
                f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + (b"" if parts[:1] == ["HEAD"] else payload)
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeDecodeError) as exc:
            logger.debug("health request abandoned: {}", exc)
        finally:
            writer.close()

    async def _respond(self, parts: list[str]) -> tuple[int, dict[str, Any]]:
        path = parts[1].split("?")[0] if len(parts) >= 2 else ""
        if path not in ("/health", "/health/live"):
            return 404, {"success": False, "error": {"code": "not_found", "message": "Not found"}}
        if parts[0] not in ("GET", "HEAD"):
            return 405, {
                "success": False,
                "error": {"code": "method_not_allowed", "message": "Method not allowed"},
            }
        if path == "/health/live":
            # Liveness: the loop answers. Dependencies are /health's business, so a
            # database outage does not get every worker restarted.
            return 200, {"status": "alive"}
        healthy, body = await self._check()
        return (200 if healthy else 503), body
