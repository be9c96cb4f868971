"""The serving loop of a worker: RPC served until SIGTERM, drained, maintained meanwhile."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import asyncpg
from loguru import logger
from redis.exceptions import RedisError

from common.config import Settings
from common.db.housekeeping import purge_spent_tokens
from common.db.idempotency import purge_completed
from common.db.pool import DATABASE_UNAVAILABLE
from common.logging import set_instance
from common.metrics import WorkerMetrics
from common.rpc.registry import describe_process, new_instance_id
from common.rpc.slots import keys_for
from common.security.tokens import TokenSigner
from common.tasks import end_task, first_of, set_within
from common.worker.context import MethodsFactory, WorkerContext
from common.worker.lifecycle import Identity, Opened, open_worker

PURGE_INTERVAL_SECONDS = 60.0
# How long maintenance may take to notice a stop (a Redis call in progress).
MAINTENANCE_GRACE_SECONDS = 1.0


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
        self._metrics = WorkerMetrics(service)
        self._stopped = asyncio.Event()
        self._forced = asyncio.Event()
        # Requests left unanswered at the stop (drain time out, or a second
        # stop); a live instance redelivers them.
        self.abandoned = 0
        self._info = describe_process(service)
        self._opened: Opened | None = None
        # Read here, before anything opens, so a bad key file stops the start at
        # once; and only where tokens are issued, so no other process holds the key.
        self._identity = Identity(
            service,
            self.instance,
            keys_for(settings.rpc),
            self._metrics,
            TokenSigner.from_settings(settings) if signs_tokens else None,
        )

    @property
    def ctx(self) -> WorkerContext | None:
        return self._opened.ctx if self._opened else None

    @property
    def health_port(self) -> int | None:
        return self._opened.health.port if self._opened else None

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
        if self._opened is not None:
            self._opened.server.stop()

    async def run(self, *, install_signal_handlers: bool = True) -> None:
        opened = self._opened = await open_worker(
            self.settings, self._identity, self._build_methods, self._health
        )
        await self._beat()
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT) if install_signal_handlers else ()
        for signum in signals:
            loop.add_signal_handler(signum, self.stop)
        maintenance = asyncio.create_task(self._maintain(), name="maintenance")
        serving = asyncio.create_task(opened.server.run(), name="rpc-server")
        logger.info(
            "{} worker {} ready (health port {})", self.service, self.instance, opened.health.port
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
            await opened.close(leave=clean)
            logger.info("{} worker {} stopped", self.service, self.instance)
            for signum in signals:
                loop.remove_signal_handler(signum)
        if not serving.cancelled():
            serving.result()  # a crash of the server loop is not a clean stop

    async def _serve(self, serving: asyncio.Task[None]) -> None:
        """Until stopped and drained; the drain ends early at its time limit or a second stop."""
        assert self._opened is not None
        await first_of(serving, self._stopped.wait())
        if serving.done():
            return
        await first_of(serving, self._forced.wait(), within=self.settings.rpc.drain_timeout)
        if not serving.done():
            self.abandoned = self._opened.server.abandon()
            logger.warning(
                "{} worker {} left {} request(s) unanswered; a live instance will redeliver them",
                self.service,
                self.instance,
                self.abandoned,
            )

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
        assert self._opened is not None
        try:
            await self._opened.registry.heartbeat(self.service, self.instance, self._info)
        except RedisError as exc:
            logger.warning("heartbeat failed: {}", exc)

    async def _recover(self) -> None:
        assert self._opened is not None
        server, stats = self._opened.server, self._metrics.rpc
        try:
            recoveries = await self._opened.registry.recover_dead(self.service)
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
                stats.count(server.metric_label(method), "redelivered", count)
            for method, count in recovery.expired.items():
                stats.count(server.metric_label(method), "dropped_expired", count)

    async def _purge(self) -> None:
        assert self.ctx is not None
        try:
            await purge_completed(self.ctx.pool, self.ctx.queries)
            await purge_spent_tokens(self.ctx.pool, self.ctx.queries)
        except (*DATABASE_UNAVAILABLE, asyncpg.PostgresError) as exc:
            logger.warning("purge of completed records failed: {}", exc)

    async def _health(self) -> tuple[bool, dict[str, Any]]:
        ctx = self.ctx
        assert ctx is not None
        redis_ok, postgres_ok = await asyncio.gather(
            _probe(ctx.redis.ping()), _probe(_ping_postgres(ctx))
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
            "inflight": self._opened.server.inflight if self._opened else 0,
        }


async def _ping_postgres(ctx: WorkerContext) -> None:
    async with ctx.pool.acquire(timeout=2) as conn:
        await ctx.queries.value(conn, "ping")


async def _probe(check: Any) -> bool:
    try:
        await asyncio.wait_for(check, 2)
    except Exception:
        return False
    return True
