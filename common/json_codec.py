"""JSON on the wire and in HTTP bodies: orjson, one compact line per message."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)


def dumps_str(value: Any) -> str:
    return dumps(value).decode()


def loads(raw: bytes | bytearray | memoryview | str) -> Any:
    return orjson.loads(raw)


JSONDecodeError = orjson.JSONDecodeError
