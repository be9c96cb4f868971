"""Ending tasks that drop a cancel, as redis-py's calls can on Python 3.11."""

from __future__ import annotations

import asyncio

from common.tasks import end_task, set_within


async def test_end_task_insists_until_a_task_that_drops_cancels_has_ended():
    dropped = 0

    async def stubborn() -> None:
        nonlocal dropped
        while dropped < 3:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                dropped += 1  # what asyncio.wait_for does on 3.11 in a race
        await asyncio.sleep(10)

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    async with asyncio.timeout(5):
        await end_task(task, grace=0.0)
    assert task.cancelled()
    assert dropped == 3


async def test_end_task_lets_a_task_finish_within_its_grace():
    stop = asyncio.Event()

    async def polite() -> None:
        await stop.wait()

    task = asyncio.create_task(polite())
    asyncio.get_running_loop().call_later(0.05, stop.set)
    await end_task(task, grace=5.0)
    assert task.done()
    assert not task.cancelled()


async def test_set_within_answers_whether_the_event_came():
    event = asyncio.Event()
    assert await set_within(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await set_within(event, 5.0) is True
