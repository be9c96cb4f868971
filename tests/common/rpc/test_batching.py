"""common/rpc/batching.py: one item that cannot be sent fails alone."""

from __future__ import annotations

import asyncio

from common.rpc.batching import Batcher


class Poisoned(Exception):
    pass


class Sink:
    """A ``send`` that refuses any batch holding a poisoned item, like Redis
    refusing a whole script for one bad key."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.failed: list[tuple[int, str]] = []

    async def send(self, batch: list[int]) -> None:
        if any(item < 0 for item in batch):
            raise Poisoned(f"{len(batch)} item(s) refused")
        self.sent.extend(batch)

    async def fail(self, item: int, exc: Exception) -> None:
        self.failed.append((item, type(exc).__name__))


async def test_items_added_together_go_out_in_one_batch() -> None:
    batches: list[list[int]] = []

    async def send(batch: list[int]) -> None:
        batches.append(batch)

    batcher: Batcher[int] = Batcher(send, fail=Sink().fail)
    for n in range(5):
        batcher.add(n)
    await batcher.drain()

    assert batches == [[0, 1, 2, 3, 4]]


async def test_a_poisoned_item_fails_alone_and_the_rest_of_its_batch_is_sent() -> None:
    sink = Sink()
    batcher: Batcher[int] = Batcher(sink.send, fail=sink.fail)
    for item in (1, 2, -3, 4, 5):
        batcher.add(item)
    await batcher.drain()

    assert sink.sent == [1, 2, 4, 5]
    assert sink.failed == [(-3, "Poisoned")]


async def test_a_lone_poisoned_item_is_reported_once() -> None:
    sink = Sink()
    batcher: Batcher[int] = Batcher(sink.send, fail=sink.fail)
    batcher.add(-1)
    await batcher.drain()
    batcher.add(7)
    await batcher.drain()

    assert sink.failed == [(-1, "Poisoned")]
    assert sink.sent == [7]


async def test_a_failing_fail_does_not_stop_later_items() -> None:
    sink = Sink()

    async def broken_fail(item: int, exc: Exception) -> None:
        raise RuntimeError("reporting broke")

    batcher: Batcher[int] = Batcher(sink.send, fail=broken_fail, max_batch=2)
    for item in (-1, -2, 3, 4):
        batcher.add(item)
    await asyncio.wait_for(batcher.drain(), 5)

    assert sink.sent == [3, 4]


async def _add_over_iterations(batcher: Batcher[int], items: range) -> None:
    for item in items:
        batcher.add(item)
        await asyncio.sleep(0)


async def test_a_busy_batcher_gathers_items_added_over_several_iterations() -> None:
    batches: list[list[int]] = []

    async def send(batch: list[int]) -> None:
        batches.append(batch)

    batcher: Batcher[int] = Batcher(send, fail=Sink().fail, linger=lambda: True, max_linger=5.0)
    await _add_over_iterations(batcher, range(6))
    await batcher.drain()

    assert batches == [[0, 1, 2, 3, 4, 5]]


async def test_a_quiet_batcher_sends_on_the_next_iteration() -> None:
    batches: list[list[int]] = []

    async def send(batch: list[int]) -> None:
        batches.append(batch)

    batcher: Batcher[int] = Batcher(send, fail=Sink().fail, linger=lambda: False, max_linger=5.0)
    await _add_over_iterations(batcher, range(3))
    await batcher.drain()

    assert len(batches) > 1
    assert [item for batch in batches for item in batch] == [0, 1, 2]


async def test_lingering_ends_at_its_time_limit() -> None:
    batches: list[list[int]] = []

    async def send(batch: list[int]) -> None:
        batches.append(batch)

    batcher: Batcher[int] = Batcher(send, fail=Sink().fail, linger=lambda: True, max_linger=0.0)
    await _add_over_iterations(batcher, range(3))
    await batcher.drain()

    assert len(batches) > 1
