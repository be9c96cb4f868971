"""Opaque page cursors of the admin user list: where the last page ended.

A cursor is base64url JSON of the sort order, its last key and id. It is not
secret and grants nothing (the same admin could ask for any page); it is
opaque so that clients do not build it, and refused (400) when it does not fit
the order asked for.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from common import json_codec
from common.errors import ValidationFailed

# users.id is a PostgreSQL integer.
MAX_ID = 2**31 - 1


def encode_cursor(sort: str, key: datetime | str, last_id: int) -> str:
    raw = key.isoformat() if isinstance(key, datetime) else key
    data = json_codec.dumps({"s": sort, "k": raw, "i": last_id})
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def decode_cursor(sort: str, cursor: str) -> tuple[datetime | str, int]:
    """The (key, id) after which the page continues; ValidationFailed if it is not ours."""
    try:
        data: Any = json_codec.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key, last_id = data["k"], data["i"]
        if data["s"] != sort or not isinstance(key, str) or "\x00" in key:
            raise ValueError("cursor of another order")
        if type(last_id) is not int or not 0 < last_id <= MAX_ID:
            raise ValueError("not a user id")
        return (datetime.fromisoformat(key) if sort == "created_at" else key), last_id
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise ValidationFailed(
            details={"cursor": ["Not a cursor of this list (use next_cursor as given)."]}
        ) from exc
