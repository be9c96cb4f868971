"""A worker's metrics: scrape-time gauges read from the real Redis and pool."""

from __future__ import annotations

import asyncpg
from redis.asyncio import Redis

from common.keys import Keys
from common.metrics import WorkerMetrics
from tests.prometheus import parse, value


async def test_queue_depth_and_pool_use_are_read_at_scrape_time(
    redis: Redis, keys: Keys, pool: asyncpg.Pool
) -> None:
    metrics = WorkerMetrics("user")
    queue = keys.request_queue("user")
    await redis.rpush(queue, b"a", b"b", b"c")  # type: ignore[misc]

    async with pool.acquire():
        names, samples = parse((await metrics.scrape(redis, queue, pool)).decode())

    assert value(samples, "gatehouse_rpc_queue_depth", service="user") == 3
    assert value(samples, "gatehouse_db_pool_connections", state="busy") == 1
    assert value(samples, "gatehouse_db_pool_max_connections") == pool.get_max_size()
    assert {
        "gatehouse_rpc_handled",
        "gatehouse_rpc_handler_duration_seconds",
        "gatehouse_rpc_redelivered",
        "gatehouse_rpc_dropped_expired",
        "gatehouse_password_hash_seconds",
    } <= names


async def test_an_unreachable_redis_leaves_the_depth_out_instead_of_failing(
    redis: Redis, keys: Keys
) -> None:
    metrics = WorkerMetrics("auth")
    queue = keys.request_queue("auth")
    await redis.rpush(queue, b"a")  # type: ignore[misc]
    await metrics.scrape(redis, queue, None)
    gone = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    try:
        _, samples = parse((await metrics.scrape(gone, queue, None)).decode())
    finally:
        await gone.aclose()

    assert value(samples, "gatehouse_rpc_queue_depth", service="auth") is None
