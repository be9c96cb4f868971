"""``gatehouse trace``: each RPC call with its reply, from Redis MONITOR.

MONITOR shows every command the server runs, including those inside our Lua
scripts, so the tracer sees a request pushed on a service queue, its reply
pushed on a reply list and the acknowledgement that removes it from the
worker's processing list (which names the worker instance). It pairs them
by message id and prints one line per call. MONITOR costs the Redis server
real throughput (every command is copied to the tracer): use it to debug,
not to watch production continuously.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from common import json_codec
from common.config import Settings
from common.errors import http_status
from common.logging import redact
from common.redis_client import stream_client

# How long after its deadline an unanswered call is reported as timed out.
TIMEOUT_GRACE_SECONDS = 1.0
_ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("a"): b"\a", ord("b"): b"\b"}


@dataclass(frozen=True, slots=True)
class MonitorEvent:
    time: float
    client: str
    args: list[bytes]

    @property
    def command(self) -> str:
        return self.args[0].decode().upper() if self.args else ""


def parse_monitor_line(line: bytes) -> MonitorEvent | None:
    """``1700000000.123 [0 127.0.0.1:5000] "LPUSH" "key" "value"`` -> event."""
    stamp, _, rest = line.partition(b" ")
    if not rest.startswith(b"["):
        return None
    client, _, quoted = rest[1:].partition(b"] ")
    try:
        return MonitorEvent(float(stamp), client.decode(errors="replace"), _unquote_all(quoted))
    except ValueError:
        return None


def _unquote_all(text: bytes) -> list[bytes]:
    """Arguments as MONITOR prints them: double-quoted, C-style escapes."""
    args: list[bytes] = []
    i = 0
    while i < len(text):
        if text[i] != ord('"'):
            i += 1
            continue
        current = bytearray()
        i += 1
        while i < len(text) and text[i] != ord('"'):
            if text[i] == ord("\\") and i + 1 < len(text):
                marker = text[i + 1]
                if marker == ord("x") and i + 3 < len(text):
                    current.append(int(text[i + 2 : i + 4], 16))
                    i += 4
                    continue
                current += _ESCAPES.get(marker, bytes([marker]))
                i += 2
                continue
            current.append(text[i])
            i += 1
        args.append(bytes(current))
        i += 1
    return args


@dataclass(slots=True)
class TraceLine:
    time: str
    method: str
    request_id: str
    id: str
    instance: str
    status: str
    http_status: int | None
    latency_ms: float | None
    redelivered: bool = False

    def text(self) -> str:
        latency = f"{self.latency_ms:8.1f}ms" if self.latency_ms is not None else "         -"
        code = f"{self.status}" + (f"({self.http_status})" if self.http_status else "")
        again = " redelivered" if self.redelivered else ""
        return (
            f"{self.time[11:23]}  {self.method:<22} {code:<24} {latency}  "
            f"rid={self.request_id}  worker={self.instance}  id={self.id}{again}"
        )


@dataclass(slots=True)
class _Call:
    method: str
    request_id: str
    sent: float
    deadline: float
    params: Any
    reply: dict[str, Any] | None = None
    replied: float | None = None
    redelivered: bool = False
    instances: list[str] = field(default_factory=list)


class Tracer:
    """Pairs requests, replies and acknowledgements seen on one RPC prefix."""

    def __init__(self, prefix: str, *, method: str | None = None, request_id: str | None = None):
        self._queue_prefix = f"{prefix}:rpc:"
        self._reply_prefix = f"{prefix}:reply:"
        self._method = method
        self._request_id = request_id
        self._calls: dict[str, _Call] = {}

    def feed(self, event: MonitorEvent) -> list[TraceLine]:
        if len(event.args) < 3:
            return []
        command, key = event.command, event.args[1].decode(errors="replace")
        if command in ("LPUSH", "RPUSH") and key.startswith(self._queue_prefix):
            if ":processing:" not in key:
                for raw in event.args[2:]:
                    self._request(raw, event.time, redelivered=command == "RPUSH")
            return []
        if command == "LPUSH" and key.startswith(self._reply_prefix):
            for raw in event.args[2:]:
                self._reply(raw, event.time)
            return []
        if command == "LREM" and ":processing:" in key and len(event.args) >= 4:
            return self._acknowledged(key.rsplit(":", 1)[-1], event.args[3], event.time)
        return []

    def expire(self, now: float) -> list[TraceLine]:
        """Calls whose deadline passed with no reply: the caller answered 504."""
        late = [
            message_id
            for message_id, call in self._calls.items()
            if call.reply is None and now > call.deadline + TIMEOUT_GRACE_SECONDS
        ]
        return [self._finish(message_id, "no_reply", None) for message_id in late]

    def _request(self, raw: bytes, at: float, *, redelivered: bool) -> None:
        try:
            message = json_codec.loads(raw)
            message_id = message["id"]
            call = _Call(
                method=str(message["method"]),
                request_id=str((message.get("headers") or {}).get("request_id", "-")),
                sent=at,
                deadline=float(message["deadline"]) / 1000,
                params=redact(message.get("params")),
            )
        except (ValueError, KeyError, TypeError):
            return
        if self._method and call.method != self._method:
            return
        if self._request_id and call.request_id != self._request_id:
            return
        if redelivered and message_id in self._calls:
            self._calls[message_id].redelivered = True
            return
        call.redelivered = redelivered
        self._calls[message_id] = call

    def _reply(self, raw: bytes, at: float) -> None:
        try:
            reply = json_codec.loads(raw)
            call = self._calls.get(reply["id"])
        except (ValueError, KeyError, TypeError):
            return
        if call is not None and call.reply is None:
            call.reply, call.replied = reply, at

    def _acknowledged(self, instance: str, raw: bytes, at: float) -> list[TraceLine]:
        try:
            message_id = json_codec.loads(raw)["id"]
        except (ValueError, KeyError, TypeError):
            return []
        call = self._calls.get(message_id)
        if call is None:
            return []
        call.instances.append(instance)
        if call.reply is None:
            return [self._finish(message_id, "dropped_expired", at)]
        if call.reply.get("ok"):
            return [self._finish(message_id, "ok", call.replied)]
        code = str((call.reply.get("error") or {}).get("code", "internal_error"))
        return [self._finish(message_id, code, call.replied)]

    def _finish(self, message_id: str, status: str, at: float | None) -> TraceLine:
        call = self._calls.pop(message_id)
        return TraceLine(
            time=datetime.fromtimestamp(call.sent, UTC).isoformat(timespec="milliseconds"),
            method=call.method,
            request_id=call.request_id,
            id=message_id,
            instance=",".join(call.instances) or "-",
            status=status,
            http_status=http_status(status) if status not in ("ok", "no_reply") else None,
            latency_ms=round((at - call.sent) * 1000, 2) if at is not None else None,
            redelivered=call.redelivered,
        )


def run_trace(
    settings: Settings, *, method: str | None, request_id: str | None, as_json: bool
) -> int:
    tracer = Tracer(settings.rpc.rpc_prefix, method=method, request_id=request_id)

    def emit(lines: list[TraceLine]) -> None:
        for line in lines:
            print(json_codec.dumps_str(asdict(line)) if as_json else line.text(), flush=True)

    async def follow() -> None:
        rpc = settings.rpc
        redis = stream_client(rpc.redis_url, sentinel=rpc.sentinel)
        where = _safe(rpc.redis_url)
        if rpc.sentinel is not None:
            sentinels = ",".join(f"{host}:{port}" for host, port in rpc.sentinel.addresses)
            where = f"the primary of {rpc.sentinel.master} (sentinels {sentinels})"
        print(
            f"tracing {rpc.rpc_prefix}:* on {where} (Ctrl-C stops)",
            file=sys.stderr,
            flush=True,
        )

        async def report_timeouts() -> None:
            while True:
                await asyncio.sleep(0.5)
                emit(tracer.expire(time.time()))

        reporter = asyncio.create_task(report_timeouts())
        try:
            while True:
                try:
                    await monitor_once(redis)
                except RedisError as exc:
                    # A Redis restart ends MONITOR; follow it back rather than die.
                    print(f"trace: {exc}; reconnecting", file=sys.stderr, flush=True)
                    await asyncio.sleep(1)
        finally:
            reporter.cancel()

    async def monitor_once(redis: Redis) -> None:
        async with redis.monitor() as monitor:
            while True:
                # Never cancelled mid-read: MONITOR is one endless reply stream.
                raw = await monitor.connection.read_response()
                if isinstance(raw, bytes):
                    event = parse_monitor_line(raw)
                    if event is not None:
                        emit(tracer.feed(event))

    try:
        asyncio.run(follow())
    except KeyboardInterrupt:
        return 0
    return 0


def _safe(url: str) -> str:
    """The URL without its password, for a banner line."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"
