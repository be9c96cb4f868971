"""The message contract: encode/decode, malformed input, error replies."""

from __future__ import annotations

import decimal
import json
import os
from typing import Any

import pytest

from common.errors import (
    BadRequest,
    Conflict,
    DeadlineExceeded,
    GatehouseError,
    InvalidCredentials,
    InvalidToken,
    MethodNotAllowed,
    NoResponders,
    NotFound,
    Overloaded,
    PayloadTooLarge,
    RateLimited,
    RemoteError,
    ServiceUnavailable,
    Unauthorized,
    UnknownMethod,
    ValidationFailed,
)
from common.rpc.message import VERSION, MalformedMessage, Reply, Request, new_message_id, now_ms


def make_request(**overrides: Any) -> Request:
    fields: dict[str, Any] = {
        "method": "user.register",
        "params": {"username": "ada", "email": "ada@example.com", "password": "engine1843"},
        "reply_to": "gatehouse:reply:gw-1",
        "deadline": now_ms() + 5000,
        "headers": {"request_id": "req-1", "traceparent": "00-abc"},
    }
    fields.update(overrides)
    return Request(**fields)


def valid_request_body() -> dict[str, Any]:
    return {
        "v": VERSION,
        "id": "abc123",
        "method": "user.profile",
        "reply_to": "p:reply:gw",
        "deadline": 1_764_369_600_123,
        "headers": {"request_id": "r"},
        "params": {"user_id": 1},
    }


def test_request_roundtrip() -> None:
    request = make_request()

    decoded = Request.decode(request.encode())

    assert decoded == request
    assert decoded.service == "user"
    assert decoded.request_id == "req-1"


def test_request_encodes_one_json_line_with_the_contract_fields() -> None:
    request = make_request()

    raw = request.encode()

    assert b"\n" not in raw
    assert json.loads(raw) == {
        "v": 1,
        "id": request.id,
        "method": "user.register",
        "reply_to": "gatehouse:reply:gw-1",
        "deadline": request.deadline,
        "headers": {"request_id": "req-1", "traceparent": "00-abc"},
        "params": request.params,
    }


def test_requests_get_distinct_ids() -> None:
    assert len({make_request().id for _ in range(100)}) == 100


def test_a_forked_child_numbers_its_messages_after_a_prefix_of_its_own() -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one id, then leave without running pytest's cleanup
        os.write(write_end, new_message_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child_id = os.read(read_end, 200).decode()
    os.close(read_end)
    os.close(write_end)
    parent_ids = {new_message_id() for _ in range(1000)}
    assert child_id not in parent_ids
    assert {message_id[:16] for message_id in parent_ids} == {new_message_id()[:16]}
    assert child_id[:16] != new_message_id()[:16]


def test_request_without_headers_or_params_decodes_with_empty_ones() -> None:
    body = valid_request_body()
    del body["headers"]
    del body["params"]

    decoded = Request.decode(json.dumps(body).encode())

    assert decoded.headers == {}
    assert decoded.params == {}
    assert decoded.request_id == "-"


def test_remaining_is_negative_after_the_deadline() -> None:
    assert make_request(deadline=now_ms() - 1000).remaining() < 0
    assert 0 < make_request(deadline=now_ms() + 5000).remaining() <= 5


@pytest.mark.parametrize("decode", [Request.decode, Reply.decode])
@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"not json", "not JSON"),
        (b"", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"text"', "not a JSON object"),
        (b"null", "not a JSON object"),
        (b'{"id": "x", "ok": true}', "unsupported version None"),
        (b'{"v": 2, "id": "x", "ok": true}', "unsupported version 2"),
        (b'{"v": "1", "id": "x", "ok": true}', "unsupported version '1'"),
    ],
)
def test_malformed_bytes(decode: Any, raw: bytes, problem: str) -> None:
    with pytest.raises(MalformedMessage, match=problem):
        decode(raw)


@pytest.mark.parametrize("missing", ["id", "method", "reply_to", "deadline"])
def test_request_missing_a_field(missing: str) -> None:
    body = valid_request_body()
    del body[missing]

    with pytest.raises(MalformedMessage, match=f"request without '{missing}'"):
        Request.decode(json.dumps(body).encode())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", 123),
        ("method", None),
        ("reply_to", ["a"]),
        ("deadline", "1764369600123"),
        ("deadline", 1.5),
        ("headers", ["request_id"]),
        ("params", [1, 2]),
        ("params", "username=ada"),
    ],
)
def test_request_field_of_the_wrong_type(field: str, value: Any) -> None:
    body = valid_request_body() | {field: value}

    with pytest.raises(MalformedMessage, match="wrong types"):
        Request.decode(json.dumps(body).encode())


def test_success_reply_roundtrip() -> None:
    reply = Reply.success("abc", {"user": {"id": 1, "name": "ada"}})

    decoded = Reply.decode(reply.encode())

    assert decoded == reply
    assert decoded.ok
    assert decoded.unwrap() == {"user": {"id": 1, "name": "ada"}}
    assert json.loads(reply.encode()) == {"v": 1, "id": "abc", "ok": True, "result": reply.result}


def test_success_reply_with_a_null_result() -> None:
    decoded = Reply.decode(Reply.success("abc", None).encode())

    assert decoded.ok
    assert decoded.unwrap() is None


def test_failure_reply_roundtrip() -> None:
    reply = Reply.failure("abc", Conflict("Username taken", {"username": ["taken"]}))

    decoded = Reply.decode(reply.encode())

    assert not decoded.ok
    assert decoded.error == {
        "code": "conflict",
        "message": "Username taken",
        "status": 409,
        "details": {"username": ["taken"]},
    }
    assert json.loads(reply.encode())["ok"] is False


def test_reply_without_an_id_is_malformed() -> None:
    with pytest.raises(MalformedMessage, match="without an id"):
        Reply.decode(b'{"v": 1, "ok": true, "result": 1}')


@pytest.mark.parametrize(
    "raw", [b'{"v": 1, "id": "x", "ok": false}', b'{"v": 1, "id": "x", "error": "boom"}']
)
def test_reply_with_a_missing_or_odd_error_unwraps_to_remote_error(raw: bytes) -> None:
    reply = Reply.decode(raw)

    assert not reply.ok
    with pytest.raises(RemoteError):
        reply.unwrap()


@pytest.mark.parametrize(
    "result",
    [{"when": object()}, {1, object()}, b"bytes are not JSON", {"n": 2**70}],
    ids=["object", "set-of-objects", "bytes", "huge-int"],
)
def test_unserialisable_result_becomes_an_internal_error_reply(result: Any) -> None:
    raw = Reply.success("abc", result).encode()

    body = json.loads(raw)
    assert body["ok"] is False
    assert body["id"] == "abc"
    assert body["error"]["code"] == "internal_error"
    assert body["error"]["status"] == 500
    with pytest.raises(RemoteError):
        Reply.decode(raw).unwrap()


def test_results_the_codec_knows_are_serialised() -> None:
    raw = Reply.success("abc", {"price": decimal.Decimal("1.50"), "tags": {"b", "a"}}).encode()

    assert Reply.decode(raw).unwrap() == {"price": "1.50", "tags": ["a", "b"]}


ALL_KNOWN_ERRORS = [
    BadRequest,
    ValidationFailed,
    Unauthorized,
    InvalidCredentials,
    InvalidToken,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    RateLimited,
    UnknownMethod,
    ServiceUnavailable,
    NoResponders,
    Overloaded,
    DeadlineExceeded,
]


@pytest.mark.parametrize("error_class", ALL_KNOWN_ERRORS, ids=lambda cls: cls.__name__)
def test_unwrap_raises_the_same_error_class(error_class: type[GatehouseError]) -> None:
    sent = error_class("what happened", {"field": ["why"]})
    reply = Reply.decode(Reply.failure("abc", sent).encode())

    with pytest.raises(error_class) as raised:
        reply.unwrap()

    assert type(raised.value) is error_class
    assert raised.value.message == "what happened"
    assert raised.value.details == {"field": ["why"]}


def test_unwrap_keeps_the_default_message() -> None:
    reply = Reply.decode(Reply.failure("abc", NotFound()).encode())

    with pytest.raises(NotFound, match=r"^Not found$"):
        reply.unwrap()


@pytest.mark.parametrize(
    "error",
    [
        {"code": "teapot", "message": "I am a teapot", "details": {}},
        {"code": 418, "message": "numeric code"},
        {"message": "no code at all"},
        {"code": "internal_error", "message": "a bug"},
    ],
)
def test_unknown_codes_become_remote_error(error: dict[str, Any]) -> None:
    reply = Reply.decode(json.dumps({"v": 1, "id": "x", "ok": False, "error": error}).encode())

    with pytest.raises(RemoteError) as raised:
        reply.unwrap()

    assert type(raised.value) is RemoteError
    assert raised.value.code == "internal_error"


def test_remote_error_keeps_a_string_message_and_drops_odd_details() -> None:
    raw = json.dumps(
        {"v": 1, "id": "x", "ok": False, "error": {"code": "??", "message": 5, "details": [1]}}
    ).encode()

    with pytest.raises(RemoteError) as raised:
        Reply.decode(raw).unwrap()

    assert raised.value.message == RemoteError.default_message
    assert raised.value.details == {}
