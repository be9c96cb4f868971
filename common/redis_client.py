"""Redis clients, sized on purpose.

Commands share a small blocking pool: replies and requests travel in
batches, so a few connections carry thousands of calls a second, and a
caller waits briefly for a free connection instead of failing. Blocking pops
get a connection of their own, whose socket timeout outlasts the server-side
block, so a pop is never cut off mid-reply.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from common import redis_cluster

COMMAND_TIMEOUT = 5.0
CONNECT_TIMEOUT = 2.0


def command_client(url: str, *, max_connections: int = 16, cluster: bool = False) -> Redis:
    if cluster:
        return redis_cluster.command_client(url)
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=COMMAND_TIMEOUT,
        socket_timeout=COMMAND_TIMEOUT,
        socket_connect_timeout=CONNECT_TIMEOUT,
        health_check_interval=30,
        # One immediate retry on a fresh connection: after a Redis restart every
        # pooled connection is dead, and only a second failure means Redis is down.
        retry=Retry(NoBackoff(), 1),
        retry_on_error=[RedisConnectionError],
    )
    # from_pool: the client owns the pool, so aclose() closes its connections.
    return Redis.from_pool(pool)


def blocking_client(url: str, *, block_seconds: float, cluster: bool = False) -> Redis:
    if cluster:
        return redis_cluster.blocking_client(url, block_seconds=block_seconds)
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=1,
        timeout=COMMAND_TIMEOUT,
        socket_timeout=block_seconds + COMMAND_TIMEOUT,
        socket_connect_timeout=CONNECT_TIMEOUT,
    )
    return Redis.from_pool(pool)
