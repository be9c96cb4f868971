"""Opening a worker's resources in order, and closing them in reverse.

A start that fails part-way closes what it had opened; a stop closes all of
it, leaving the registry only when nothing was left unanswered.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from loguru import logger
from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.config import Settings
from common.db.migrations import migrate
from common.db.pool import DATABASE_UNAVAILABLE, wait_for_pool
from common.db.queries import Queries
from common.errors import ServiceUnavailable
from common.health_server import HealthServer
from common.keys import Keys
from common.metrics import WorkerMetrics
from common.redis_client import blocking_client_for, command_client_for
from common.replication import ReplicaConfirm
from common.rpc.message import Request
from common.rpc.registry import Registry
from common.rpc.server import TAKE_BLOCK_SECONDS, Method, RpcServer
from common.security.passwords import PasswordHasher
from common.security.tokens import TokenSigner
from common.worker.context import MethodsFactory, WorkerContext

HealthCheck = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


@dataclass(slots=True)
class Opened:
    """Everything a started worker holds; ``close`` lets go of all of it."""

    ctx: WorkerContext
    server: RpcServer
    registry: Registry
    blocking_redis: Redis
    health: HealthServer

    async def close(self, *, leave: bool) -> None:
        if not leave:
            # Staying registered until the entry expires is what gets the
            # requests left in the processing list handed back to the queue.
            self.ctx.pool.terminate()
        else:
            try:
                await self.registry.leave(self.ctx.service, self.ctx.instance)
            except RedisError as exc:
                logger.warning("could not leave the registry: {}", exc)
            await self.ctx.pool.close()
        await self.health.close()
        self.ctx.hasher.close()
        await self.ctx.redis.aclose()
        await self.blocking_redis.aclose()


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the worker is: fixed before anything opens."""

    service: str
    instance: str
    keys: Keys
    metrics: WorkerMetrics
    tokens: TokenSigner | None


async def open_worker(
    settings: Settings, who: Identity, build_methods: MethodsFactory, health: HealthCheck
) -> Opened:
    """Open every resource; if any step fails, close what was opened before it."""
    queries = Queries.load()
    async with contextlib.AsyncExitStack() as opened:
        pool = await wait_for_pool(settings)
        opened.push_async_callback(pool.close)
        async with pool.acquire() as conn:
            if not settings.is_production:
                await migrate(conn, queries)
            await queries.check(conn)
        redis = command_client_for(settings.rpc)
        opened.push_async_callback(redis.aclose)
        blocking_redis = blocking_client_for(settings.rpc, block_seconds=TAKE_BLOCK_SECONDS)
        replicas = ReplicaConfirm(redis, settings.rpc.replica_wait)
        opened.push_async_callback(blocking_redis.aclose)
        hasher = PasswordHasher(
            settings.auth.bcrypt_rounds,
            settings.auth.password_threads,
            niceness=settings.auth.password_niceness,
            timing=who.metrics.password_seconds,
        )
        opened.callback(hasher.close)
        ctx = WorkerContext(
            settings=settings,
            service=who.service,
            instance=who.instance,
            keys=who.keys,
            redis=redis,
            pool=pool,
            queries=queries,
            hasher=hasher,
            tokens=who.tokens,
            metrics=who.metrics,
            replicas=replicas,
        )
        server = RpcServer(
            redis,
            blocking_redis,
            who.keys,
            who.service,
            who.instance,
            {name: _answer_503_when_database_down(m) for name, m in build_methods(ctx).items()},
            concurrency=settings.rpc.worker_concurrency,
            stats=who.metrics.rpc,
            replicas=replicas,
        )
        health_server = HealthServer(
            health,
            host="0.0.0.0",  # noqa: S104
            port=settings.http.port_for(who.service),
            metrics=lambda: who.metrics.scrape(redis, who.keys.request_queue(who.service), pool),
        )
        await health_server.start()
        opened.push_async_callback(health_server.close)
        # Started: from here on Opened.close owns all of it.
        opened.pop_all()
    registry = Registry(redis, who.keys, ttl=settings.rpc.heartbeat_ttl)
    return Opened(ctx, server, registry, blocking_redis, health_server)


def _answer_503_when_database_down(method: Method) -> Method:
    handler = method.handler

    async def guarded(params: dict[str, Any], request: Request) -> Any:
        try:
            return await handler(params, request)
        except DATABASE_UNAVAILABLE as exc:
            logger.warning("{} failed, database unavailable: {!r}", request.method, exc)
            raise ServiceUnavailable("Database unavailable") from exc

    return Method(guarded, method.schema)
