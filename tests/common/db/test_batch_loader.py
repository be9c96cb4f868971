"""BatchLoader: the reads of one loop iteration become one ``load_many``."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from common.db.batch_loader import BatchLoader


class Squares:
    """A load_many that records the batches it was given."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    async def __call__(self, keys: list[int]) -> Mapping[int, int]:
        self.batches.append(keys)
        await asyncio.sleep(0)
        return {key: key * key for key in keys if key >= 0}


async def test_calls_started_together_share_one_batch_with_distinct_keys() -> None:
    squares = Squares()
    loader = BatchLoader(squares)
    results = await asyncio.gather(*(loader.load(key) for key in (1, 2, 3, 2, -1)))
    assert results == [1, 4, 9, 4, None]
    assert squares.batches == [[1, 2, 3, -1]]


async def test_calls_of_later_iterations_get_batches_of_their_own() -> None:
    squares = Squares()
    loader = BatchLoader(squares)
    assert await loader.load(2) == 4
    assert await loader.load(3) == 9
    assert squares.batches == [[2], [3]]


async def test_a_full_batch_goes_at_once() -> None:
    squares = Squares()
    loader = BatchLoader(squares, max_batch=2)
    assert await asyncio.gather(*(loader.load(key) for key in range(5))) == [0, 1, 4, 9, 16]
    assert squares.batches == [[0, 1], [2, 3], [4]]


async def test_a_failed_load_fails_every_caller_of_its_batch_only() -> None:
    calls = 0

    async def flaky(keys: list[int]) -> Mapping[int, int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionResetError("database went away")
        return {key: key for key in keys}

    loader = BatchLoader(flaky)
    outcomes = await asyncio.gather(loader.load(1), loader.load(2), return_exceptions=True)
    assert [type(outcome) for outcome in outcomes] == [ConnectionResetError] * 2
    assert await loader.load(3) == 3


async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    loader = BatchLoader(Squares())
    first = asyncio.ensure_future(loader.load(4))
    second = asyncio.ensure_future(loader.load(5))
    await asyncio.sleep(0)
    first.cancel()
    assert await second == 25
    with pytest.raises(asyncio.CancelledError):
        await first
