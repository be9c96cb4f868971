"""Prometheus metrics of one worker process, in a registry of its own.

Each process is one scrape target. Counters and histograms are updated on the
hot path (a few microseconds a request, label children cached); what costs a
call (the queue's length in Redis, the pool's state) is read only when
``/metrics`` is scraped.
"""

from __future__ import annotations

import asyncpg
from loguru import logger
from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.rpc.stats import RpcStats

CONTENT_TYPE = CONTENT_TYPE_LATEST
# bcrypt at 10 rounds is tens of milliseconds per core; 12 rounds is ~4x that.
PASSWORD_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class WorkerMetrics:
    """What a worker exposes: its RPC stats, password hashing, queue and pool."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.rpc = RpcStats(self.registry, side="server")
        self.password_seconds = Histogram(
            "gatehouse_password_hash_seconds",
            "Seconds one bcrypt hash or verify took on its thread.",
            ["operation"],
            buckets=PASSWORD_BUCKETS,
            registry=self.registry,
        )
        self._queue_depth = Gauge(
            "gatehouse_rpc_queue_depth",
            "Requests waiting in the service's queue (LLEN at scrape time).",
            ["service"],
            registry=self.registry,
        )
        self._pool_connections = Gauge(
            "gatehouse_db_pool_connections",
            "Connections in this process's PostgreSQL pool, by state.",
            ["state"],
            registry=self.registry,
        )
        self._pool_max = Gauge(
            "gatehouse_db_pool_max_connections",
            "The pool's upper bound (DB_POOL_MAX).",
            registry=self.registry,
        )

    async def scrape(self, redis: Redis, queue: str, pool: asyncpg.Pool | None) -> bytes:
        """Refresh the scrape-time gauges and render the registry as Prometheus text."""
        try:
            self._queue_depth.labels(self.service).set(await redis.llen(queue))
        except RedisError as exc:
            # Leave the last value out rather than report a stale one as current.
            self._queue_depth.clear()
            logger.debug("queue depth not read: {}", exc)
        if pool is not None:
            size, idle = pool.get_size(), pool.get_idle_size()
            self._pool_connections.labels("busy").set(size - idle)
            self._pool_connections.labels("idle").set(idle)
            self._pool_max.set(pool.get_max_size())
        return render(self.registry)


def render(registry: CollectorRegistry) -> bytes:
    """``registry`` in the Prometheus text exposition format."""
    return generate_latest(registry)
