"""The serving side: take requests reliably, run them concurrently, reply in batches.

A request moves atomically from the service queue into this instance's
processing list; it leaves that list in the same pipeline that pushes its
reply. If the instance dies in between, a surviving instance gives the list
back to the queue (see ``Registry.recover_dead``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

from loguru import logger
from marshmallow import Schema
from marshmallow import ValidationError as SchemaError
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from common.context import ORIGIN_HEADERS, deadline_var, origin_var, request_id_var
from common.errors import GatehouseError, RemoteError, UnknownMethod, ValidationFailed
from common.keys import Keys
from common.rpc import scripts
from common.rpc.batching import Batcher
from common.rpc.message import MalformedMessage, Reply, Request
from common.rpc.stats import NO_METHOD, OK, RpcStats

TAKE_BLOCK_SECONDS = 1
MAX_BACKOFF_SECONDS = 2.0
# Reply lists of callers that went away must not live forever.
REPLY_LIST_TTL_MS = 60_000
UNKNOWN_METHOD = "unknown"


class Handler(Protocol):
    def __call__(self, params: dict[str, Any], request: Request) -> Awaitable[Any]: ...


@dataclass(frozen=True, slots=True)
class Method:
    """One RPC method: its handler and the schema that validates its params."""

    handler: Handler
    schema: Schema | None = None


@dataclass(slots=True)
class _Outgoing:
    request: Request
    raw_request: bytes
    raw_reply: bytes


class RpcServer:
    def __init__(
        self,
        redis: Redis,
        blocking_redis: Redis,
        keys: Keys,
        service: str,
        instance: str,
        methods: Mapping[str, Method],
        *,
        concurrency: int,
        stats: RpcStats | None = None,
    ) -> None:
        self._redis = redis
        self._blocking_redis = blocking_redis
        self.service = service
        self.instance = instance
        self._queue = keys.request_queue(service)
        self._processing = keys.processing(service, instance)
        self._methods = methods
        self._concurrency = concurrency
        self.stats = stats or RpcStats(side="server")
        self.stats.watch_in_flight(lambda: len(self._tasks))
        self._take = redis.register_script(scripts.TAKE_BATCH)
        self._reply_and_acknowledge = redis.register_script(scripts.REPLY_AND_ACKNOWLEDGE)
        self._tasks: set[asyncio.Task[None]] = set()
        self._capacity = asyncio.Event()
        self._capacity.set()
        self._stopping = asyncio.Event()
        self._replies: Batcher[_Outgoing] = Batcher(self._send_replies, fail=self._drop_reply)

    @property
    def inflight(self) -> int:
        return len(self._tasks)

    def metric_label(self, method: str) -> str:
        """``method``, or one shared label for unknown names, so that a bad caller
        cannot grow the metrics without bound."""
        return method if method in self._methods else UNKNOWN_METHOD

    def stop(self) -> None:
        """Stop taking new requests; ``run`` returns once in-flight ones are answered."""
        self._stopping.set()

    def abandon(self) -> int:
        """Give up the requests in flight and return how many there were.

        They stay in this instance's processing list, unanswered and
        unacknowledged, so a live instance redelivers them once this one's
        registration expires.
        """
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        return len(self._tasks)

    async def run(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            await self._wait_for_capacity()
            if self._stopping.is_set():
                break
            try:
                taken = await self._take_requests(self._concurrency - len(self._tasks))
            except RedisError as exc:
                logger.warning(
                    "{} worker cannot take requests: {}; retrying in {:.1f}s",
                    self.service,
                    exc,
                    backoff,
                )
                await self._sleep_unless_stopping(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            backoff = 0.1
            for raw in taken:
                self._start(raw)
        await self._drain()

    async def _wait_for_capacity(self) -> None:
        if self._capacity.is_set():
            return
        stop = asyncio.ensure_future(self._stopping.wait())
        capacity = asyncio.ensure_future(self._capacity.wait())
        await asyncio.wait({stop, capacity}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        capacity.cancel()

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _take_requests(self, room: int) -> list[bytes]:
        """Up to ``room`` requests: a non-blocking batch, else one blocking move."""
        taken: list[bytes] = await self._take(keys=[self._queue, self._processing], args=[room])
        if taken:
            return taken
        # The blocking move runs on its own connection, with a server-side timeout
        # shorter than the socket timeout, so it never needs to be cancelled.
        one = await self._blocking_redis.blmove(
            self._queue, self._processing, TAKE_BLOCK_SECONDS, src="RIGHT", dest="LEFT"
        )
        return [cast(bytes, one)] if one is not None else []

    def _start(self, raw: bytes) -> None:
        task = asyncio.create_task(self._handle(raw))
        self._tasks.add(task)
        if len(self._tasks) >= self._concurrency:
            self._capacity.clear()
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._capacity.set()

    async def _handle(self, raw: bytes) -> None:
        try:
            request = Request.decode(raw)
        except MalformedMessage as exc:
            logger.warning("dropped malformed request on {}: {}", self._queue, exc)
            self.stats.count(NO_METHOD, "malformed")
            await self._forget(raw)
            return
        request_id_var.set(request.request_id)
        deadline_var.set(request.deadline)
        origin_var.set(
            {
                name: value
                for name in ORIGIN_HEADERS
                if isinstance(value := request.headers.get(name), str)
            }
        )
        if request.remaining() <= 0:
            # The caller has already answered 504; running it now would surprise them.
            logger.info(
                "dropped {} {}: deadline passed before it started", request.method, request.id
            )
            self.stats.count(self.metric_label(request.method), "dropped_expired")
            await self._forget(raw)
            return
        reply = await self._execute(request)
        self._replies.add(_Outgoing(request, raw, reply.encode()))

    async def _execute(self, request: Request) -> Reply:
        method = self._methods.get(request.method)
        name = self.metric_label(request.method)
        started = time.perf_counter()
        try:
            if method is None:
                raise UnknownMethod(f"{self.service} has no method {request.method!r}")
            params = request.params
            if method.schema is not None:
                try:
                    params = method.schema.load(params)
                except SchemaError as exc:
                    raise ValidationFailed(details=_as_details(exc.messages)) from None
            result = await method.handler(params, request)
        except GatehouseError as exc:
            self.stats.finished(name, exc.code, time.perf_counter() - started)
            return Reply.failure(request.id, exc)
        except Exception:
            logger.exception("{} failed", request.method)
            self.stats.finished(name, RemoteError.code, time.perf_counter() - started)
            return Reply.failure(request.id, RemoteError())
        self.stats.finished(name, OK, time.perf_counter() - started)
        return Reply.success(request.id, result)

    async def _forget(self, raw: bytes) -> None:
        async def remove() -> None:
            await self._redis.lrem(self._processing, -1, raw)  # type: ignore[arg-type]

        await _retry_until_sent(remove, self._stopping)

    async def _send_replies(self, batch: list[_Outgoing]) -> None:
        # A script Redis refuses part-way has pushed the replies before the bad
        # one; the Batcher then resends each alone. A second copy is harmless:
        # the caller matches replies by id and drops (counts) the late copy.
        async def send() -> None:
            # A caller past its deadline is no longer listening: skip its reply.
            replies = [item.raw_reply if item.request.remaining() > 0 else b"" for item in batch]
            await self._reply_and_acknowledge(
                keys=[self._processing, *(item.request.reply_to for item in batch)],
                args=[REPLY_LIST_TTL_MS, *replies, *(item.raw_request for item in batch)],
            )

        await _retry_until_sent(send, self._stopping)

    async def _drop_reply(self, item: _Outgoing, exc: Exception) -> None:
        """A reply Redis refuses (say, its reply list is not a list): it alone is
        lost, its caller gets its deadline, its request leaves the processing list."""
        logger.error(
            "dropped the reply to {} {} (reply_to {!r}): {}",
            item.request.method,
            item.request.id,
            item.request.reply_to,
            exc,
        )
        await self._forget(item.raw_request)

    async def _drain(self) -> None:
        if self._tasks:
            logger.info(
                "{} worker finishing {} request(s) in flight", self.service, len(self._tasks)
            )
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._replies.drain()


async def _retry_until_sent(send: Callable[[], Awaitable[Any]], stopping: asyncio.Event) -> None:
    """Keep trying a write through a Redis outage; an unsent reply leaves a caller hanging.

    A command Redis refuses (ResponseError) would be refused again: it is raised.
    """
    backoff = 0.1
    while True:
        try:
            await send()
            return
        except ResponseError:
            raise
        except RedisError as exc:
            if stopping.is_set() and backoff >= MAX_BACKOFF_SECONDS:
                logger.error("giving up on a reply during shutdown: {}", exc)
                return
            logger.warning("reply not sent: {}; retrying in {:.1f}s", exc, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)


def _as_details(messages: Any) -> dict[str, Any]:
    return _text_keys(messages) if isinstance(messages, dict) else {"_schema": messages}


def _text_keys(value: Any) -> Any:
    """marshmallow keys a list item's errors by its index: JSON wants text keys."""
    if isinstance(value, dict):
        return {str(key): _text_keys(item) for key, item in value.items()}
    return value
