"""Coalesce many small Redis writes into one round trip.

Callers add items without waiting; a single flusher task sends whatever has
gathered since the last send. Under load each round trip carries many
messages, at rest a lone message goes out on the next loop iteration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from loguru import logger

T = TypeVar("T")


class Batcher(Generic[T]):
    def __init__(self, send: Callable[[list[T]], Awaitable[None]], *, max_batch: int = 512) -> None:
        self._send = send
        self._max_batch = max_batch
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
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                await self._send(batch)
            except Exception:
                # ``send`` owns its failures; reaching here is a bug, not a reason
                # to stop sending everything queued behind it.
                logger.exception("batch send failed unexpectedly")
