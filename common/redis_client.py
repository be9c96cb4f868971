"""Redis clients, sized on purpose, for one server or a Sentinel-watched primary.

Commands share a small blocking pool: replies and requests travel in
batches, so a few connections carry thousands of calls a second, and a
caller waits briefly for a free connection instead of failing. Blocking pops
get a connection of their own, whose socket timeout outlasts the server-side
block, so a pop is never cut off mid-reply.

Every process makes its clients here, from ``settings.rpc``'s URL and, when
set, its Sentinel settings: a Sentinel-backed pool asks the sentinels for the
primary on every new connection, so after a failover the connections to the
dead primary fail, the one immediate retry reconnects, and it reaches the
promoted replica (redis-py's ``SentinelManagedConnection``).
"""

from __future__ import annotations

from typing import Any, cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from common import redis_cluster
from common.config.rpc import RpcSettings, SentinelSettings

COMMAND_TIMEOUT = 5.0
CONNECT_TIMEOUT = 2.0
# A sentinel that does not answer this fast is skipped for the next one.
SENTINEL_TIMEOUT = 0.5


def command_client(
    url: str,
    *,
    max_connections: int = 16,
    cluster: bool = False,
    sentinel: SentinelSettings | None = None,
) -> Redis:
    if cluster:
        return redis_cluster.command_client(url)
    options: dict[str, Any] = {
        "max_connections": max_connections,
        "timeout": COMMAND_TIMEOUT,
        "socket_timeout": COMMAND_TIMEOUT,
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "health_check_interval": 30,
        # One immediate retry on a fresh connection: after a Redis restart (or a
        # failover) every pooled connection is dead, and only a second failure
        # means Redis is down.
        "retry": Retry(NoBackoff(), 1),
        "retry_on_error": [RedisConnectionError],
    }
    if sentinel is not None:
        return _sentinel_client(sentinel, options)
    # from_pool: the client owns the pool, so aclose() closes its connections.
    return Redis.from_pool(BlockingConnectionPool.from_url(url, **options))


def blocking_client(
    url: str,
    *,
    block_seconds: float,
    cluster: bool = False,
    sentinel: SentinelSettings | None = None,
) -> Redis:
    if cluster:
        return redis_cluster.blocking_client(url, block_seconds=block_seconds)
    options: dict[str, Any] = {
        "max_connections": 1,
        "timeout": COMMAND_TIMEOUT,
        "socket_timeout": block_seconds + COMMAND_TIMEOUT,
        "socket_connect_timeout": CONNECT_TIMEOUT,
    }
    if sentinel is not None:
        return _sentinel_client(sentinel, options)
    return Redis.from_pool(BlockingConnectionPool.from_url(url, **options))


def stream_client(url: str, *, sentinel: SentinelSettings | None = None) -> Redis:
    """For one endless reply stream (MONITOR): no socket timeout, since a quiet
    stream is not a dead one."""
    if sentinel is not None:
        return _sentinel_client(sentinel, {"socket_connect_timeout": CONNECT_TIMEOUT})
    return Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT)


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's primary discovery with the blocking pool's wait for a free connection."""


class _SentinelClient(Redis):
    """A client of the primary that also closes its connections to the sentinels."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        manager = cast(SentinelConnectionPool, self.connection_pool).sentinel_manager
        await super().aclose(close_connection_pool)
        for sentinel in manager.sentinels:
            await sentinel.aclose()


def _sentinel_client(settings: SentinelSettings, options: dict[str, Any]) -> Redis:
    tls: dict[str, Any] = {}
    if settings.tls:
        tls = {"ssl": True, "ssl_ca_certs": settings.tls_ca_file}
    manager = Sentinel(
        settings.addresses,
        sentinel_kwargs={
            "password": settings.sentinel_password,
            "socket_timeout": SENTINEL_TIMEOUT,
            "socket_connect_timeout": SENTINEL_TIMEOUT,
            **tls,
        },
    )
    return cast(
        Redis,
        manager.master_for(
            settings.master,
            redis_class=_SentinelClient,
            connection_pool_class=_BlockingSentinelPool,
            username=settings.username,
            password=settings.password,
            db=settings.db,
            **tls,
            **options,
        ),
    )


def command_client_for(rpc: RpcSettings, *, max_connections: int = 16) -> Redis:
    """The command client for the Redis topology ``rpc`` names: one server, a
    Sentinel-watched primary, or a Cluster."""
    return command_client(
        rpc.redis_url,
        max_connections=max_connections,
        cluster=rpc.redis_cluster,
        sentinel=rpc.sentinel,
    )


def blocking_client_for(rpc: RpcSettings, *, block_seconds: float) -> Redis:
    """The client for blocking pops, for the Redis topology ``rpc`` names."""
    return blocking_client(
        rpc.redis_url, block_seconds=block_seconds, cluster=rpc.redis_cluster, sentinel=rpc.sentinel
    )
