"""Admin list cursors: they round-trip, and anything else is a 400 naming the cursor."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.accounts.cursor import decode_cursor, encode_cursor
from common.errors import ValidationFailed
from tests.e2e.helpers import b64url
from user_app.admin import like_pattern


def test_a_cursor_round_trips_for_its_own_order() -> None:
    when = datetime(2026, 12, 4, 21, 0, 1, 123456, tzinfo=UTC)
    assert decode_cursor("created_at", encode_cursor("created_at", when, 7)) == (when, 7)
    assert decode_cursor("email", encode_cursor("email", "a@b.c", 9)) == ("a@b.c", 9)


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        b64url(b"not json"),
        b64url(b'{"s":"username","k":"a","i":1}'),  # another order's
        b64url(b'{"s":"email","k":"a","i":"1"}'),
        b64url(b'{"s":"email","k":"a","i":0}'),
        b64url(b'{"s":"email","k":"a","i":4294967296}'),
        b64url(b'{"s":"email","k":"a\\u0000","i":1}'),
        b64url(b'{"s":"email","k":5,"i":1}'),
        b64url(b'["email","a",1]'),
    ],
)
def test_anything_else_is_refused(cursor: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        decode_cursor("email", cursor)
    assert "cursor" in refused.value.details


def test_a_created_at_cursor_needs_a_timestamp() -> None:
    with pytest.raises(ValidationFailed):
        decode_cursor("created_at", b64url(b'{"s":"created_at","k":"yesterday","i":1}'))


def test_search_text_is_literal_in_like() -> None:
    assert like_pattern("Ada_%\\") == "%ada\\_\\%\\\\%"
