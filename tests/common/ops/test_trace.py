"""MONITOR line parsing and request/reply pairing of ``gatehouse trace``."""

from __future__ import annotations

from common import json_codec
from common.ops.trace import MonitorEvent, Tracer, parse_monitor_line

PREFIX = "gh"


def quoted(value: bytes) -> bytes:
    """How MONITOR prints an argument (sdscatrepr)."""
    out = bytearray(b'"')
    for byte in value:
        if byte in (ord('"'), ord("\\")):
            out += b"\\" + bytes([byte])
        elif byte == ord("\n"):
            out += b"\\n"
        elif 32 <= byte < 127:
            out.append(byte)
        else:
            out += f"\\x{byte:02x}".encode()
    return bytes(out + b'"')


def line(at: float, client: str, *args: bytes) -> bytes:
    return f"{at:.6f} [0 {client}] ".encode() + b" ".join(quoted(a) for a in args)


def request(message_id: str, method: str = "user.register", deadline_ms: int = 10_000) -> bytes:
    return json_codec.dumps(
        {
            "v": 1,
            "id": message_id,
            "method": method,
            "reply_to": f"{PREFIX}:reply:gw-1",
            "deadline": deadline_ms,
            "headers": {"request_id": f"rid-{message_id}"},
            "params": {"username": "ada", "password": "hunter22"},
        }
    )


def test_parse_monitor_line_unescapes_quotes_newlines_and_bytes() -> None:
    payload = '{"a":"x\\"y","b":"é\n"}'.encode()
    event = parse_monitor_line(line(1.5, "lua", b"LPUSH", b"key", payload))
    assert event == MonitorEvent(1.5, "0 lua", [b"LPUSH", b"key", payload])


def test_parse_monitor_line_ignores_other_lines() -> None:
    assert parse_monitor_line(b"OK") is None


def test_request_reply_and_acknowledgement_make_one_line() -> None:
    tracer = Tracer(PREFIX)
    raw = request("m1")
    reply = json_codec.dumps({"v": 1, "id": "m1", "ok": True, "result": {}})
    assert tracer.feed(parse_monitor_line(line(1.0, "lua", b"LPUSH", b"gh:rpc:user", raw))) == []
    assert (
        tracer.feed(parse_monitor_line(line(1.05, "lua", b"LPUSH", b"gh:reply:gw-1", reply))) == []
    )
    ack = b"gh:rpc:user:processing:user-host-1-ab"
    [traced] = tracer.feed(parse_monitor_line(line(1.06, "lua", b"LREM", ack, b"-1", raw)))
    assert traced.method == "user.register"
    assert traced.request_id == "rid-m1"
    assert traced.instance == "user-host-1-ab"
    assert traced.status == "ok"
    assert traced.latency_ms == 50.0
    assert "hunter22" not in traced.text()


def test_error_reply_carries_code_and_http_status() -> None:
    tracer = Tracer(PREFIX)
    raw = request("m2")
    error = {"code": "conflict", "message": "taken", "status": 409, "details": {}}
    reply = json_codec.dumps({"v": 1, "id": "m2", "ok": False, "error": error})
    tracer.feed(MonitorEvent(2.0, "lua", [b"LPUSH", b"gh:rpc:user", raw]))
    tracer.feed(MonitorEvent(2.1, "lua", [b"LPUSH", b"gh:reply:gw-1", reply]))
    [traced] = tracer.feed(
        MonitorEvent(2.1, "lua", [b"LREM", b"gh:rpc:user:processing:u-1", b"-1", raw])
    )
    assert (traced.status, traced.http_status) == ("conflict", 409)


def test_acknowledged_without_reply_is_reported_as_dropped() -> None:
    tracer = Tracer(PREFIX)
    raw = request("m3")
    tracer.feed(MonitorEvent(3.0, "lua", [b"LPUSH", b"gh:rpc:user", raw]))
    [traced] = tracer.feed(
        MonitorEvent(9.0, "c", [b"LREM", b"gh:rpc:user:processing:u-1", b"-1", raw])
    )
    assert traced.status == "dropped_expired"


def test_unanswered_call_is_reported_after_its_deadline() -> None:
    tracer = Tracer(PREFIX)
    tracer.feed(
        MonitorEvent(3.0, "lua", [b"LPUSH", b"gh:rpc:user", request("m4", deadline_ms=4000)])
    )
    assert tracer.expire(4.5) == []
    [traced] = tracer.expire(5.5)
    assert (traced.status, traced.latency_ms) == ("no_reply", None)


def test_filters_by_method_and_request_id() -> None:
    tracer = Tracer(PREFIX, method="auth.login", request_id="rid-m6")
    for message_id, method in (("m5", "auth.login"), ("m6", "auth.login"), ("m7", "user.profile")):
        tracer.feed(MonitorEvent(1.0, "lua", [b"LPUSH", b"gh:rpc:x", request(message_id, method)]))
    assert [t.id for t in tracer.expire(100.0)] == ["m6"]


def test_processing_list_pushes_are_not_requests() -> None:
    tracer = Tracer(PREFIX)
    tracer.feed(MonitorEvent(1.0, "lua", [b"LPUSH", b"gh:rpc:user:processing:u-1", request("m8")]))
    assert tracer.expire(100.0) == []
