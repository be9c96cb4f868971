"""Answer many reads of one kind with one query (a small DataLoader).

A worker takes several requests at once and starts them together, so the
handlers of one take reach their read in the same loop iteration. Each calls
``load(key)``; the loader waits for that iteration to end, then runs one
``load_many`` over every distinct key asked for and hands each caller its
row. Under load a take of N ``user.profile`` calls costs one round trip to
PostgreSQL and one pool acquire instead of N; alone, a call waits for nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterator, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

LoadMany = Callable[[list[K]], Awaitable[Mapping[K, V]]]


class BatchLoader(Generic[K, V]):
    """``await load(key)`` -> the value ``load_many`` found for it, or None.

    An error from ``load_many`` is raised in every caller of that batch.
    """

    def __init__(self, load_many: LoadMany[K, V], *, max_batch: int = 512) -> None:
        self._load_many = load_many
        self._max_batch = max_batch
        self._waiting: dict[K, list[asyncio.Future[V | None]]] = {}
        self._dispatch_scheduled = False
        self._batches: set[asyncio.Task[None]] = set()

    async def load(self, key: K) -> V | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V | None] = loop.create_future()
        self._waiting.setdefault(key, []).append(future)
        if len(self._waiting) >= self._max_batch:
            self._dispatch()
        elif not self._dispatch_scheduled:
            # call_soon runs after the callbacks already queued: the other
            # handlers of this take get to add their keys first.
            self._dispatch_scheduled = True
            loop.call_soon(self._dispatch)
        return await future

    def _dispatch(self) -> None:
        self._dispatch_scheduled = False
        if not self._waiting:
            return
        batch, self._waiting = self._waiting, {}
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)

    async def _run(self, batch: dict[K, list[asyncio.Future[V | None]]]) -> None:
        try:
            found = await self._load_many(list(batch))
        except Exception as exc:
            for future in _pending(batch):
                future.set_exception(exc)
            return
        except BaseException:
            for future in _pending(batch):
                future.cancel()
            raise
        for key, futures in batch.items():
            for future in futures:
                if not future.done():  # its caller may have been cancelled
                    future.set_result(found.get(key))


def _pending(
    batch: Mapping[K, list[asyncio.Future[V | None]]],
) -> Iterator[asyncio.Future[V | None]]:
    return (future for futures in batch.values() for future in futures if not future.done())
