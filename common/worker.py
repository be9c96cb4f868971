"""A service worker: resources opened at start, RPC served, drained on SIGTERM.

``user_app`` and ``auth_app`` differ only in the methods they hand to
``Worker``; everything about lifecycle lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
from loguru import logger
from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.config import Settings
from common.db.housekeeping import purge_spent_tokens
from common.db.idempotency import once_per_message, purge_completed
from common.db.migrations import migrate
from common.db.pool import DATABASE_UNAVAILABLE, wait_for_pool
from common.db.queries import Queries
from common.errors import ServiceUnavailable
from common.health_server import HealthServer
from common.keys import Keys
from common.logging import set_instance
from common.metrics import WorkerMetrics
from common.redis_client import blocking_client, command_client
from common.rpc.message import Request
from common.rpc.registry import Registry, describe_process, new_instance_id
from common.rpc.server import TAKE_BLOCK_SECONDS, Method, RpcServer
from common.rpc.stats import RpcStats
from common.security.passwords import PasswordHasher
from common.security.tokens import TokenSigner
from common.tasks import end_task, first_of, set_within

PURGE_INTERVAL_SECONDS = 60.0
# How long maintenance may take to notice a stop (a Redis call in progress).
MAINTENANCE_GRACE_SECONDS = 1.0
T = TypeVar("T")


@dataclass(slots=True)
class WorkerContext:
    """What a service's handlers may use; built once per process."""

    settings: Settings
    service: str
    instance: str
    keys: Keys
    redis: Redis
    pool: asyncpg.Pool
    queries: Queries
    hasher: PasswordHasher
    # Only a worker that issues tokens (auth) holds the signing key.
    tokens: TokenSigner | None
    metrics: WorkerMetrics

    def signer(self) -> TokenSigner:
        """The token signer of a worker started with ``signs_tokens``."""
        if self.tokens is None:
            raise RuntimeError(f"the {self.service} worker does not sign tokens")
        return self.tokens

    @property
    def stats(self) -> RpcStats:
        """The RPC counters, kept in ``metrics``' registry."""
        return self.metrics.rpc

    async def once(self, request: Request, run: Callable[[], Awaitable[T]]) -> T:
        """``run()`` once per message id; a redelivery gets the stored reply.

        ``run`` applies its effect through ``run_once`` (common/db/idempotency.py).
        """
        return await once_per_message(
            self.pool,
            self.queries,
            request,
            run,
            lambda: self.stats.count(request.method, "replayed"),
        )


MethodsFactory = Callable[[WorkerContext], Mapping[str, Method]]


class Worker:
    def __init__(
        self,
        settings: Settings,
        service: str,
        build_methods: MethodsFactory,
        *,
        signs_tokens: bool = False,
    ) -> None:
        self.settings = settings
        self.service = service
        self.instance = new_instance_id(service)
        set_instance(self.instance)
        self._build_methods = build_methods
        self._keys = Keys(settings.rpc.rpc_prefix)
        self._metrics = WorkerMetrics(service)
        self._stats = self._metrics.rpc
        self._stopped = asyncio.Event()
        self._forced = asyncio.Event()
        # Requests left unanswered at the stop (drain time out, or a second
        # stop); a live instance redelivers them.
        self.abandoned = 0
        self._info = describe_process(service)
        self.ctx: WorkerContext | None = None
        self.health: HealthServer | None = None
        self._server: RpcServer | None = None
        self._blocking_redis: Redis | None = None
        # Read here, before anything opens, so a bad key file stops the start at
        # once; and only where tokens are issued, so no other process holds the key.
        self._tokens = TokenSigner.from_settings(settings) if signs_tokens else None

    def stop(self) -> None:
        """Stop taking requests; ``run`` finishes those in flight and returns.

        The drain lasts at most ``DRAIN_TIMEOUT``; a second call (a second
        SIGTERM, or SIGINT during the drain) ends it at once.
        """
        if self._stopped.is_set():
            if not self._forced.is_set():
                logger.warning(
                    "{} worker {} stopping now, without finishing its requests",
                    self.service,
                    self.instance,
                )
            self._forced.set()
            return
        logger.info("{} worker {} stopping", self.service, self.instance)
        self._stopped.set()
        if self._server is not None:
            self._server.stop()

    async def run(self, *, install_signal_handlers: bool = True) -> None:
        await self._start()
        assert self._server is not None
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT) if install_signal_handlers else ()
        for signum in signals:
            loop.add_signal_handler(signum, self.stop)
        maintenance = asyncio.create_task(self._maintain(), name="maintenance")
        serving = asyncio.create_task(self._server.run(), name="rpc-server")
        logger.info(
            "{} worker {} ready (health port {})",
            self.service,
            self.instance,
            self.health.port if self.health else "-",
        )
        try:
            await self._serve(serving)
        finally:
            self._stopped.set()
            # Cut short, a take may have just moved a request into this
            # instance's processing list: only a clean end leaves the registry.
            clean = serving.done() and not self.abandoned
            await end_task(serving, grace=0.0)
            await end_task(maintenance, grace=MAINTENANCE_GRACE_SECONDS if clean else 0.0)
            await self._close(leave=clean)
            for signum in signals:
                loop.remove_signal_handler(signum)
        if not serving.cancelled():
            serving.result()  # a crash of the server loop is not a clean stop

    async def _serve(self, serving: asyncio.Task[None]) -> None:
        """Until stopped and drained; the drain ends early at its time limit or a second stop."""
        assert self._server is not None
        await first_of(serving, self._stopped.wait())
        if serving.done():
            return
        await first_of(serving, self._forced.wait(), within=self.settings.rpc.drain_timeout)
        if not serving.done():
            self.abandoned = self._server.abandon()
            logger.warning(
                "{} worker {} left {} request(s) unanswered; a live instance will redeliver them",
                self.service,
                self.instance,
                self.abandoned,
            )

    async def _start(self) -> None:
        """Open every resource; if any step fails, close what was opened before it."""
        settings = self.settings
        queries = Queries.load()
        async with contextlib.AsyncExitStack() as opened:
            pool = await wait_for_pool(settings)
            opened.push_async_callback(pool.close)
            async with pool.acquire() as conn:
                if not settings.is_production:
                    await migrate(conn, queries)
                await queries.check(conn)
            redis = command_client(settings.rpc.redis_url)
            opened.push_async_callback(redis.aclose)
            blocking_redis = blocking_client(
                settings.rpc.redis_url, block_seconds=TAKE_BLOCK_SECONDS
            )
            opened.push_async_callback(blocking_redis.aclose)
            hasher = PasswordHasher(
                settings.auth.bcrypt_rounds,
                settings.auth.password_threads,
                timing=self._metrics.password_seconds,
            )
            opened.callback(hasher.close)
            ctx = WorkerContext(
                settings=settings,
                service=self.service,
                instance=self.instance,
                keys=self._keys,
                redis=redis,
                pool=pool,
                queries=queries,
                hasher=hasher,
                tokens=self._tokens,
                metrics=self._metrics,
            )
            self._registry = Registry(redis, self._keys, ttl=settings.rpc.heartbeat_ttl)
            self._server = RpcServer(
                redis,
                blocking_redis,
                self._keys,
                self.service,
                self.instance,
                {
                    name: _answer_503_when_database_down(m)
                    for name, m in self._build_methods(ctx).items()
                },
                concurrency=settings.rpc.worker_concurrency,
                stats=self._stats,
            )
            self.ctx, self._blocking_redis = ctx, blocking_redis
            health = HealthServer(
                self._health,
                host="0.0.0.0",  # noqa: S104
                port=settings.http.port_for(self.service),
                metrics=lambda: self._metrics.scrape(
                    redis, self._keys.request_queue(self.service), pool
                ),
            )
            await health.start()
            opened.push_async_callback(health.close)
            # Started: from here on _close owns all of it.
            opened.pop_all()
        self.health = health
        await self._beat()

    async def _close(self, *, leave: bool) -> None:
        assert self.ctx is not None
        if not leave:
            # Staying registered until the entry expires is what gets the
            # requests left in the processing list handed back to the queue.
            self.ctx.pool.terminate()
        else:
            try:
                await self._registry.leave(self.service, self.instance)
            except RedisError as exc:
                logger.warning("could not leave the registry: {}", exc)
            await self.ctx.pool.close()
        if self.health is not None:
            await self.health.close()
        self.ctx.hasher.close()
        await self.ctx.redis.aclose()
        if self._blocking_redis is not None:
            await self._blocking_redis.aclose()
        logger.info("{} worker {} stopped", self.service, self.instance)

    async def _maintain(self) -> None:
        """Heartbeats, recovery of dead instances' work, and purging old records.

        Ends by itself once the worker stops, rather than by cancellation (see ``end_task``).
        """
        last_purge = 0.0
        while not await set_within(self._stopped, self.settings.rpc.heartbeat_interval):
            await self._beat()
            await self._recover()
            if time.monotonic() - last_purge > PURGE_INTERVAL_SECONDS:
                last_purge = time.monotonic()
                await self._purge()

    async def _beat(self) -> None:
        try:
            await self._registry.heartbeat(self.service, self.instance, self._info)
        except RedisError as exc:
            logger.warning("heartbeat failed: {}", exc)

    async def _recover(self) -> None:
        assert self._server is not None
        try:
            recoveries = await self._registry.recover_dead(self.service)
        except RedisError as exc:
            logger.warning("recovery sweep failed: {}", exc)
            return
        for recovery in recoveries:
            logger.warning(
                "instance {} is gone: {} request(s) requeued, {} expired",
                recovery.instance,
                sum(recovery.requeued.values()),
                sum(recovery.expired.values()),
            )
            for method, count in recovery.requeued.items():
                self._stats.count(self._server.metric_label(method), "redelivered", count)
            for method, count in recovery.expired.items():
                self._stats.count(self._server.metric_label(method), "dropped_expired", count)

    async def _purge(self) -> None:
        assert self.ctx is not None
        try:
            await purge_completed(self.ctx.pool, self.ctx.queries)
            await purge_spent_tokens(self.ctx.pool, self.ctx.queries)
        except (*DATABASE_UNAVAILABLE, asyncpg.PostgresError) as exc:
            logger.warning("purge of completed records failed: {}", exc)

    async def _health(self) -> tuple[bool, dict[str, Any]]:
        assert self.ctx is not None
        redis_ok, postgres_ok = await asyncio.gather(
            _probe(self.ctx.redis.ping()), _probe(_ping_postgres(self.ctx))
        )
        healthy = redis_ok and postgres_ok and not self._stopped.is_set()
        return healthy, {
            "status": "healthy" if healthy else "unhealthy",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "service": f"{self.service}-service",
            "instance": self.instance,
            "dependencies": {
                "redis": {"status": "up" if redis_ok else "down"},
                "postgres": {"status": "up" if postgres_ok else "down"},
            },
            "inflight": self._server.inflight if self._server else 0,
        }


def _answer_503_when_database_down(method: Method) -> Method:
    handler = method.handler

    async def guarded(params: dict[str, Any], request: Request) -> Any:
        try:
            return await handler(params, request)
        except DATABASE_UNAVAILABLE as exc:
            logger.warning("{} failed, database unavailable: {!r}", request.method, exc)
            raise ServiceUnavailable("Database unavailable") from exc

    return Method(guarded, method.schema)


async def _ping_postgres(ctx: WorkerContext) -> None:
    async with ctx.pool.acquire(timeout=2) as conn:
        await ctx.queries.value(conn, "ping")


async def _probe(check: Any) -> bool:
    try:
        await asyncio.wait_for(check, 2)
    except Exception:
        return False
    return True
