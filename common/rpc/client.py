"""The calling side: push a request, await the reply by message id.

One client per process. Requests are pushed in coalesced batches; one
reader task pops this process's reply list (many replies per pop) and
resolves the waiting futures.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, cast

from loguru import logger
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from common.context import deadline_var, origin_var, request_id_var
from common.errors import (
    BadRequest,
    DeadlineExceeded,
    GatehouseError,
    InvalidToken,
    NoResponders,
    Overloaded,
    ServiceUnavailable,
)
from common.keys import Keys
from common.replication import ConfirmedScript, ReplicaConfirm
from common.rpc import scripts, slotted
from common.rpc.batching import Batcher
from common.rpc.message import MalformedMessage, Reply, Request, now_ms
from common.rpc.registry import Registry
from common.rpc.stats import NO_METHOD, OK, TIMEOUT, RpcStats

# How long one blocking pop of the reply list waits server-side.
REPLY_BLOCK_SECONDS = 1.0
REPLY_BATCH = 256
# How long a "service X has live instances" answer is trusted.
LIVENESS_CACHE_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 2.0
# Ids of calls that timed out, kept to name the method of a late reply.
GAVE_UP_MEMORY = 10_000
# With this many calls in flight the push batch lingers over a few more loop
# iterations, at most LINGER_SECONDS (common/rpc/batching.py); below it a
# call goes out on the next iteration, so a quiet gateway adds no latency.
LINGER_INFLIGHT = 32
LINGER_SECONDS = 0.0005


@dataclass(frozen=True, slots=True)
class SessionGuard:
    """Push the call only while this login session is live and this user's."""

    session_id: int
    user_id: int


class SessionUnknown(Exception):
    """Redis does not know the guarded session (it lost its data): ask PostgreSQL."""


# A request, its encoded form (encoded by its caller, so that an unencodable
# one fails at once and alone), its session guard and the future its reply resolves.
_Outgoing = tuple[Request, bytes, SessionGuard | None, "asyncio.Future[Reply]"]
# PUSH_GUARDED's per-item statuses.
_PUSHED, _SESSION_ENDED, _SESSION_UNKNOWN = 1, 0, 2


class RpcClient:
    def __init__(
        self,
        redis: Redis,
        blocking_redis: Redis,
        keys: Keys,
        registry: Registry,
        instance: str,
        *,
        default_timeout: float,
        max_inflight: int,
        max_queue_length: int,
        stats: RpcStats | None = None,
        replicas: ReplicaConfirm | None = None,
    ) -> None:
        self._redis = redis
        self._blocking_redis = blocking_redis
        self._keys = keys
        self._registry = registry
        self.reply_to = keys.reply_queue(instance)
        self._default_timeout = default_timeout
        self._max_inflight = max_inflight
        self._max_queue_length = max_queue_length
        self.stats = stats or RpcStats(side="client")
        self.stats.watch_in_flight(lambda: len(self._pending))
        self._pending: dict[str, asyncio.Future[Reply]] = {}
        self._liveness: dict[str, tuple[float, bool]] = {}
        self._push: ConfirmedScript | AsyncScript = redis.register_script(scripts.PUSH_GUARDED)
        if replicas is not None:
            # A request a failover loses would leave its caller waiting for its deadline.
            self._push = replicas.script(self._push, what="request push")
        self._outbox: Batcher[_Outgoing] = Batcher(
            self._send_requests,
            fail=self._fail_request,
            linger=lambda: len(self._pending) >= LINGER_INFLIGHT,
            max_linger=LINGER_SECONDS,
        )
        self._reader: asyncio.Task[None] | None = None
        self._closing = False
        self._gave_up: dict[str, str] = {}

    @property
    def inflight(self) -> int:
        return len(self._pending)

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read_replies(), name="rpc-reply-reader")

    async def close(self) -> None:
        self._closing = True
        if self._reader is not None:
            # On 3.11 a cancel that lands as redis-py's inner wait_for completes
            # can be swallowed; insist until the reader has really stopped.
            while not self._reader.done():
                self._reader.cancel()
                await asyncio.wait({self._reader}, timeout=0.1)
            # A blocking pop cut short leaves its connection in an unknown state.
            await self._blocking_redis.connection_pool.disconnect()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ServiceUnavailable("The gateway is shutting down"))
        self._pending.clear()

    async def call(
        self,
        method: str,
        params: dict[str, Any],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - it becomes the deadline in the message
        session: SessionGuard | None = None,
    ) -> Any:
        """Run ``method`` on some live instance of its service and return its result.

        With ``session``, the request is pushed only if that session is live and
        the user's, checked by Redis in the same step as the push: InvalidToken
        when it has ended, SessionUnknown when Redis does not know it.

        Raises the remote GatehouseError, NoResponders or Overloaded (503),
        ServiceUnavailable when Redis is unreachable, DeadlineExceeded (504).
        """
        deadline = now_ms() + int((timeout or self._default_timeout) * 1000)
        inherited = deadline_var.get()
        if inherited is not None:
            deadline = min(deadline, inherited)
        request = Request(
            method=method,
            params=params,
            reply_to=self.reply_to,
            deadline=deadline,
            headers={"request_id": request_id_var.get(), **(origin_var.get() or {})},
        )
        started = time.perf_counter()
        try:
            result = await self._send_and_wait(request, session)
        except DeadlineExceeded:
            self.stats.finished(method, TIMEOUT, time.perf_counter() - started)
            raise
        except GatehouseError as exc:
            self.stats.finished(method, exc.code, time.perf_counter() - started)
            raise
        self.stats.finished(method, OK, time.perf_counter() - started)
        return result

    async def _send_and_wait(self, request: Request, session: SessionGuard | None) -> Any:
        if request.remaining() <= 0:
            raise DeadlineExceeded("No time left for a nested call")
        if len(self._pending) >= self._max_inflight:
            raise Overloaded()
        try:
            payload = request.encode()
        except TypeError as exc:  # orjson's JSONEncodeError is a TypeError
            raise BadRequest(f"The request cannot be encoded: {exc}") from None
        await self._require_responders(request.service)

        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[request.id] = future
        self._outbox.add((request, payload, session, future))
        try:
            reply = await asyncio.wait_for(future, request.remaining())
        except TimeoutError:
            self._remember_gave_up(request.id, request.method)
            raise DeadlineExceeded() from None
        finally:
            self._pending.pop(request.id, None)
        return reply.unwrap()

    def _remember_gave_up(self, message_id: str, method: str) -> None:
        """So that a late reply is counted under its method; bounded, oldest out."""
        self._gave_up[message_id] = method
        if len(self._gave_up) > GAVE_UP_MEMORY:
            del self._gave_up[next(iter(self._gave_up))]

    async def _require_responders(self, service: str) -> None:
        checked_at, alive = self._liveness.get(service, (0.0, False))
        if time.monotonic() - checked_at > LIVENESS_CACHE_SECONDS:
            try:
                alive = await self._registry.live_count(service) > 0
            except RedisError as exc:
                raise ServiceUnavailable("Message broker unreachable") from exc
            self._liveness[service] = (time.monotonic(), alive)
        if not alive:
            raise NoResponders(f"No live instance of the {service} service")

    async def _send_requests(self, batch: list[_Outgoing]) -> None:
        by_queue: dict[str, list[_Outgoing]] = {}
        for item in batch:
            by_queue.setdefault(self._keys.request_queue(item[0].service), []).append(item)
        await asyncio.gather(*(self._push_queue(queue, items) for queue, items in by_queue.items()))

    async def _push_queue(self, queue: str, items: list[_Outgoing]) -> None:
        unguarded = ("", queue)  # any key will do: the script reads none for it
        guards = [
            (str(guard.user_id), self._keys.session(guard.session_id)) if guard else unguarded
            for _, _, guard, _ in items
        ]
        try:
            answer = await slotted.push_guarded(
                self._push,
                self._redis,
                queue,
                guards,
                [payload for _, payload, _, _ in items],
                max_length=self._max_queue_length,
                cluster=self._keys.cluster,
            )
        except RedisError as exc:
            logger.warning("could not push {} request(s) to {}: {}", len(items), queue, exc)
            self._fail_all(items, ServiceUnavailable("Message broker unreachable"))
            return
        length, statuses = int(answer[0]), answer[1:]
        full = Overloaded(f"The {queue.rsplit(':', 1)[-1]} queue is full")
        for (_, _, _, future), status in zip(items, statuses, strict=True):
            if future.done():
                continue
            if status == _SESSION_ENDED:
                future.set_exception(InvalidToken("Session has ended; log in again"))
            elif status == _SESSION_UNKNOWN:
                future.set_exception(SessionUnknown())
            elif length < 0:
                future.set_exception(full)

    @staticmethod
    def _fail_all(items: list[_Outgoing], failure: Exception) -> None:
        for _, _, _, future in items:
            if not future.done():
                future.set_exception(failure)

    async def _fail_request(self, item: _Outgoing, exc: Exception) -> None:
        """A request that could not be sent: its caller hears at once, nobody else."""
        request, _, _, future = item
        logger.error("could not send {} {}: {}", request.method, request.id, exc)
        if not future.done():
            future.set_exception(ServiceUnavailable("The request could not be sent"))

    async def _read_replies(self) -> None:
        backoff = 0.1
        while not self._closing:
            try:
                popped = await self._blocking_redis.blmpop(
                    REPLY_BLOCK_SECONDS, 1, self.reply_to, direction="RIGHT", count=REPLY_BATCH
                )
            except RedisError as exc:
                logger.warning("reply reader: {}; retrying in {:.1f}s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            backoff = 0.1
            if popped:
                for raw in cast(list[bytes], popped[1]):
                    self._deliver(raw)

    def _deliver(self, raw: bytes) -> None:
        try:
            reply = Reply.decode(raw)
        except MalformedMessage as exc:
            logger.warning("dropped malformed reply: {}", exc)
            self.stats.count(NO_METHOD, "malformed")
            return
        future = self._pending.get(reply.id)
        if future is None or future.done():
            # Its caller gave up (deadline), or another copy already answered;
            # "-" when the id is unknown or long forgotten.
            self.stats.count(self._gave_up.pop(reply.id, NO_METHOD), "late_replies")
            return
        future.set_result(reply)
