"""Redis Cluster clients (REDIS_CLUSTER=true), shaped like the single-Redis ones.

redis-py's asyncio ``RedisCluster`` routes every keyed command, script
(EVALSHA by its first key, SCRIPT LOAD again on a node that lacks it) and
blocking pop to the node that owns the slot, follows MOVED and ASK during a
resharding, and retries TRYAGAIN (a multi-key call on a slot half moved) and
connection errors after refreshing its view of the cluster. What it does not
give us, and what we do instead:

- Blocking moves need a connection whose socket timeout outlasts the
  server-side block, which the command client must not have: blocking
  commands get a cluster client of their own, which opens one connection to
  the node that owns the slot being waited on (and follows it when the slot
  moves: Redis unblocks the waiter with MOVED).
- No connection pool to disconnect: ``RpcClient.close`` drops its blocking
  connection through ``connection_pool.disconnect()``, which
  ``_BlockingCluster`` provides over every node.
- Pipelines are split by node and not atomic (MULTI only works within one
  slot): every pipeline Gatehouse runs is ``transaction=False`` already, and
  each command in it stands alone.
- Pub/sub: PUBLISH goes to any node and the cluster bus broadcasts it to all,
  so ``user.created`` and audit events keep their channel, and a subscriber
  may SUBSCRIBE on a plain connection to any one node. (Sharded pub/sub,
  SPUBLISH, would keep events on one shard but move the subscribers' channel:
  not worth breaking them for our event rate.)
"""

from __future__ import annotations

import asyncio
from typing import cast

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import Connection

COMMAND_TIMEOUT = 5.0
CONNECT_TIMEOUT = 2.0
# Per node. The cluster client refuses (MaxConnectionsError) rather than waits
# when its pool is exhausted; requests and replies travel in batches, so a
# process keeps a few connections per node busy, never this many.
MAX_CONNECTIONS_PER_NODE = 256
# Redirects and TRYAGAIN answers one command may take before it fails (redis-py
# allows 16, sleeping 50 ms on each of the last half: 0.4 s). A script over
# several keys of a slot that a resharding has half moved gets TRYAGAIN until
# that slot's keys are all moved; 48 rides out about 1.2 s of it.
REDIRECTS = 48


_acquire_any = ClusterNode.acquire_connection


def _acquire_last_released(node: ClusterNode) -> Connection:
    """The connection released last, so that ASKING and the command it allows share one.

    On an ASK redirect (a slot half-moved by a resharding) redis-py sends
    ASKING and then the command as two pooled commands; its pool hands out
    the *oldest* free connection, so under load the command goes out on
    another connection than its ASKING, the importing node answers MOVED
    back to the old owner, and the call ping-pongs until "TTL exhausted".
    Nothing awaits between the two, so taking the newest free connection
    keeps them on one.
    """
    if node._free:
        return node._free.pop()
    return _acquire_any(node)


def _use_one_connection_per_redirect() -> None:
    setattr(ClusterNode, "acquire_connection", _acquire_last_released)  # noqa: B010


class _AllNodes:
    """The one thing callers ask of a pool: drop its connections."""

    def __init__(self, cluster: RedisCluster) -> None:
        self._cluster = cluster

    async def disconnect(self) -> None:
        await asyncio.gather(*(node.disconnect() for node in self._cluster.get_nodes()))


class _BlockingCluster(RedisCluster):
    @property
    def connection_pool(self) -> _AllNodes:
        return _AllNodes(self)


def command_client(url: str) -> Redis:
    """Commands and scripts on a cluster found from the node in ``url``."""
    _use_one_connection_per_redirect()
    cluster = RedisCluster.from_url(
        url,
        max_connections=MAX_CONNECTIONS_PER_NODE,
        socket_timeout=COMMAND_TIMEOUT,
        socket_connect_timeout=CONNECT_TIMEOUT,
    )
    cluster.RedisClusterRequestTTL = REDIRECTS
    # Typed as Redis so that every caller stays one code path: RedisCluster
    # implements each command, script and pipeline call Gatehouse makes.
    return cast(Redis, cluster)


def blocking_client(url: str, *, block_seconds: float) -> Redis:
    """Blocking pops and moves, each on a connection to the slot's node."""
    _use_one_connection_per_redirect()
    cluster = _BlockingCluster.from_url(
        url,
        max_connections=MAX_CONNECTIONS_PER_NODE,
        socket_timeout=block_seconds + COMMAND_TIMEOUT,
        socket_connect_timeout=CONNECT_TIMEOUT,
    )
    cluster.RedisClusterRequestTTL = REDIRECTS
    return cast(Redis, cluster)
