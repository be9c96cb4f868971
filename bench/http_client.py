"""A bare HTTP/1.1 keep-alive client and a closed-loop load generator on it.

httpx costs about 5 ms of client CPU per request here, which made the first
HTTP benchmark measure httpx, not the gateway.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from common import json_codec


class KeepAliveClient:
    """One connection, one request at a time, reconnecting after an error."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self._host = host
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, *, body: Any = None, token: str | None = None
    ) -> tuple[int, bytes]:
        try:
            return await self._request(method, path, body, token)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self.close()
            return 599, b""

    async def _request(
        self, method: str, path: str, body: Any, token: str | None
    ) -> tuple[int, bytes]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        payload = json_codec.dumps(body) if body is not None else b""
        head = f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(payload)}\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        self._writer.write(head.encode() + b"Content-Type: application/json\r\n\r\n" + payload)
        await self._writer.drain()
        header = await self._reader.readuntil(b"\r\n\r\n")
        status = int(header.split(b" ", 2)[1])
        length = 0
        for line in header.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return status, await self._reader.readexactly(length)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


Call = Callable[[KeepAliveClient, int], Awaitable[tuple[int, bytes]]]


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def drive(
    call: Call, port: int, connections: int, seconds: float, *, pause: float = 0.0
) -> LoadResult:
    """``connections`` clients calling back to back (or ``pause`` apart) for ``seconds``."""
    result = LoadResult()
    stop_at = time.perf_counter() + seconds

    async def loop() -> None:
        client = KeepAliveClient(port)
        try:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                status, _ = await call(client, result.requests)
                result.latencies.append(time.perf_counter() - started)
                result.requests += 1
                result.errors += status >= 400
                if pause:
                    await asyncio.sleep(pause)
        finally:
            client.close()

    began = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(connections)))
    result.seconds = time.perf_counter() - began
    return result


FLOW_TABLE_HEADER = (
    f"{'flow':>10} {'in flight':>9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}"
)


def flow_table_row(name: str, in_flight: int, load: LoadResult) -> str:
    """One row of the per-flow tables of ``bench.http_flows`` and ``bench.session_flows``."""
    latencies = sorted(load.latencies)
    p50 = statistics.median(latencies) * 1000
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)] * 1000
    return f"{name:>10} {in_flight:>9} {load.rate:>8.0f} {p50:>8.1f} {p95:>8.1f} {load.errors:>7}"
