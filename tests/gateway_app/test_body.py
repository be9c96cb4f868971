"""gateway_app/body.py: the depth rule for request bodies."""

from __future__ import annotations

from typing import Any

import pytest

from gateway_app.body import depth_exceeds


def nested(levels: int) -> Any:
    value: Any = {}
    for level in range(levels - 1):
        value = [value] if level % 2 else {"k": value}
    return value


@pytest.mark.parametrize("levels", [1, 2, 31, 32])
def test_depth_within_the_limit(levels: int) -> None:
    assert not depth_exceeds(nested(levels), 32)


@pytest.mark.parametrize("levels", [33, 34, 5000])
def test_depth_past_the_limit(levels: int) -> None:
    assert depth_exceeds(nested(levels), 32)


def test_depth_counts_the_deepest_branch_not_the_width() -> None:
    wide = {str(n): [1, 2, {"x": [3]}] for n in range(1000)}
    assert not depth_exceeds(wide, 4)
    assert depth_exceeds({"a": wide}, 4)
