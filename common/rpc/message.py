"""The message contract: one JSON object per message, one line, version 1."""

from __future__ import annotations

import itertools
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from common import json_codec
from common.errors import GatehouseError, RemoteError, from_wire

VERSION = 1


class MalformedMessage(ValueError):
    """Bytes on a queue that are not a message of this contract."""


def now_ms() -> int:
    return int(time.time() * 1000)


class _MessageIds:
    """Ids unique across processes and restarts at the cost of a counter.

    ``uuid4`` reads the OS's random source for every message (about 7 % of
    the gateway's CPU under load). Instead each process draws 64 random bits
    once, again in a forked child, and numbers its messages after them:
    two processes collide only if they draw the same 64 bits.
    """

    def __init__(self) -> None:
        self.renew()
        os.register_at_fork(after_in_child=self.renew)

    def renew(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count()

    def next(self) -> str:
        # The prefix has a fixed length, so prefix + counter never reads as another pair.
        return f"{self._prefix}{next(self._counter):x}"


_message_ids = _MessageIds()


def new_message_id() -> str:
    return _message_ids.next()


@dataclass(slots=True)
class Request:
    method: str
    params: dict[str, Any]
    reply_to: str
    deadline: int
    headers: dict[str, str] = field(default_factory=dict)
    id: str = field(default_factory=new_message_id)

    @property
    def service(self) -> str:
        return self.method.partition(".")[0]

    @property
    def request_id(self) -> str:
        return self.headers.get("request_id", "-")

    @property
    def client_ip(self) -> str | None:
        """The public client's address as the gateway saw it (see gateway_app/client_ip.py)."""
        return self.headers.get("client_ip")

    @property
    def user_agent(self) -> str | None:
        return self.headers.get("user_agent")

    def remaining(self) -> float:
        """Seconds left before the deadline (negative once it has passed)."""
        return (self.deadline - now_ms()) / 1000

    def encode(self) -> bytes:
        return json_codec.dumps(
            {
                "v": VERSION,
                "id": self.id,
                "method": self.method,
                "reply_to": self.reply_to,
                "deadline": self.deadline,
                "headers": self.headers,
                "params": self.params,
            }
        )

    @classmethod
    def decode(cls, raw: bytes) -> Request:
        body = _decode_object(raw)
        try:
            request = cls(
                id=body["id"],
                method=body["method"],
                reply_to=body["reply_to"],
                deadline=body["deadline"],
                headers=body.get("headers") or {},
                params=body.get("params") or {},
            )
        except KeyError as missing:
            raise MalformedMessage(f"request without {missing}") from None
        if not (
            isinstance(request.id, str)
            and isinstance(request.method, str)
            and isinstance(request.reply_to, str)
            and isinstance(request.deadline, int)
            and isinstance(request.headers, dict)
            and isinstance(request.params, dict)
        ):
            raise MalformedMessage("request fields have the wrong types")
        return request


@dataclass(slots=True)
class Reply:
    id: str
    result: Any = None
    error: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def success(cls, message_id: str, result: Any) -> Reply:
        return cls(id=message_id, result=result)

    @classmethod
    def failure(cls, message_id: str, error: GatehouseError) -> Reply:
        return cls(id=message_id, error=error.to_wire())

    def unwrap(self) -> Any:
        """The result, or the error it carries raised as a GatehouseError."""
        if self.error is not None:
            raise from_wire(self.error)
        return self.result

    def encode(self) -> bytes:
        """Serialise; a result or error JSON cannot hold (a foreign type, nesting
        past orjson's limit) becomes a plain error reply, not a crash."""
        body: dict[str, Any] = {"v": VERSION, "id": self.id}
        if self.error is not None:
            body |= {"ok": False, "error": self.error}
        else:
            body |= {"ok": True, "result": self.result}
        try:
            return json_codec.dumps(body)
        except TypeError:  # orjson's JSONEncodeError is a TypeError
            failure = RemoteError("The service produced a reply that cannot be serialised")
            return json_codec.dumps(
                {"v": VERSION, "id": self.id, "ok": False, "error": failure.to_wire()}
            )

    @classmethod
    def decode(cls, raw: bytes) -> Reply:
        body = _decode_object(raw)
        message_id = body.get("id")
        if not isinstance(message_id, str):
            raise MalformedMessage("reply without an id")
        if body.get("ok") is True:
            return cls(id=message_id, result=body.get("result"))
        error = body.get("error")
        return cls(id=message_id, error=error if isinstance(error, dict) else {})


def _decode_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json_codec.loads(raw)
    except json_codec.JSONDecodeError as exc:
        raise MalformedMessage(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise MalformedMessage("not a JSON object")
    if body.get("v") != VERSION:
        raise MalformedMessage(f"unsupported version {body.get('v')!r}")
    return body
