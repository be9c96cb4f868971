"""Coalesce many small Redis writes into one round trip.

Callers add items without waiting; a single flusher task sends whatever has
gathered since the last send. Under load each round trip carries many
messages, at rest a lone message goes out on the next loop iteration.

With ``linger``, a flusher that finds the process busy (``linger()`` true)
waits a few loop iterations more, as long as each one brings new items and
at most ``max_linger`` seconds: calls arriving over several iterations (one
HTTP connection's request after another's) share one round trip instead of
each paying for its own.

A batch that fails is sent again one item at a time, so that one item that
cannot be sent (unencodable, or refused by Redis) fails alone: ``fail`` is
told about that item, and every other item of its batch still goes out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from loguru import logger

T = TypeVar("T")


class Batcher(Generic[T]):
    def __init__(
        self,
        send: Callable[[list[T]], Awaitable[None]],
        *,
        fail: Callable[[T, Exception], Awaitable[None]],
        max_batch: int = 512,
        linger: Callable[[], bool] | None = None,
        max_linger: float = 0.0,
    ) -> None:
        self._send = send
        self._fail = fail
        self._max_batch = max_batch
        self._linger = linger
        self._max_linger = max_linger
        self._pending: list[T] = []
        self._flusher: asyncio.Task[None] | None = None

    def add(self, item: T) -> None:
        self._pending.append(item)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    def __len__(self) -> int:
        return len(self._pending)

    async def drain(self) -> None:
        """Wait until everything added so far has been handed to ``send``."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    async def _flush(self) -> None:
        # One loop iteration lets every coroutine that is ready add its item first.
        await asyncio.sleep(0)
        if self._linger is not None and self._linger():
            await self._gather_more()
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                await self._send(batch)
            except Exception as exc:
                if len(batch) == 1:
                    await self._report(batch[0], exc)
                    continue
                logger.warning("a batch of {} failed ({}); sending each alone", len(batch), exc)
                for item in batch:
                    try:
                        await self._send([item])
                    except Exception as item_exc:
                        await self._report(item, item_exc)

    async def _gather_more(self) -> None:
        """More loop iterations while each brings items, within ``max_linger``."""
        give_up = time.perf_counter() + self._max_linger
        while len(self._pending) < self._max_batch and time.perf_counter() < give_up:
            before = len(self._pending)
            await asyncio.sleep(0)
            if len(self._pending) == before:
                return

    async def _report(self, item: T, exc: Exception) -> None:
        try:
            await self._fail(item, exc)
        except Exception:
            # ``fail`` must not stop the items queued behind this one.
            logger.exception("reporting a failed item failed")
