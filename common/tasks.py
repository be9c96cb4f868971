"""Ending asyncio tasks reliably on Python 3.11.

On 3.11 ``asyncio.wait_for`` returns the result and drops a cancel that
arrives as the awaited call completes (fixed in 3.12), and redis-py sends
every command through it: one ``cancel()`` may be lost, and a loop that was
meant to end carries on for ever. So long-running loops end on an event, and
what must be cancelled is cancelled until it is done.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any


async def first_of(
    task: asyncio.Task[None], event_wait: Coroutine[Any, Any, Any], within: float | None = None
) -> None:
    """Until ``task`` finishes or ``event_wait`` returns, at most ``within`` seconds."""
    waiter = asyncio.ensure_future(event_wait)
    try:
        await asyncio.wait({task, waiter}, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()


async def set_within(event: asyncio.Event, seconds: float) -> bool:
    """Whether ``event`` is set within ``seconds`` (``asyncio.timeout``, not ``wait_for``)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    return event.is_set()


async def end_task(task: asyncio.Task[None], *, grace: float) -> None:
    """Let ``task`` finish for ``grace`` seconds, then cancel it until it has."""
    if grace > 0:
        await asyncio.wait({task}, timeout=grace)
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)
