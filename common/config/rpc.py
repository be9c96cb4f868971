"""Redis and the RPC layer: where messages go, how long calls wait, how much is in flight."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote

from common.config.env import ConfigError, Env


@dataclass(frozen=True, slots=True)
class SentinelSettings:
    """Redis behind Sentinel: ask the sentinels where the primary of ``master`` is.

    ``password``/``username``/``db``/``tls`` are the data nodes' (REDIS_PASSWORD,
    REDIS_USERNAME, REDIS_DB, REDIS_TLS); the sentinels may have a password of
    their own (REDIS_SENTINEL_PASSWORD) and share the TLS switch.
    """

    addresses: tuple[tuple[str, int], ...]
    master: str = "mymaster"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    db: int = 0
    sentinel_password: str | None = field(default=None, repr=False)
    tls: bool = False
    tls_ca_file: str | None = None


@dataclass(frozen=True, slots=True)
class ReplicaWait:
    """``WAIT replicas timeout`` after the writes that must survive a failover (0: off)."""

    replicas: int = 0
    timeout: float = 0.1

    @property
    def enabled(self) -> bool:
        return self.replicas > 0


@dataclass(frozen=True, slots=True)
class RpcSettings:
    redis_url: str
    rpc_prefix: str = "gatehouse"
    rpc_timeout: float = 5.0
    # How many requests one worker runs at once; also its batch size per pop.
    worker_concurrency: int = 64
    # Calls one gateway process may have waiting for replies before it sheds load.
    max_inflight_calls: int = 1024
    # Requests a service queue may hold before callers are told to back off.
    max_queue_length: int = 10_000
    heartbeat_interval: float = 1.0
    # How long a stopping worker may spend finishing requests it has taken.
    drain_timeout: float = 10.0
    # REDIS_URL names one node of a Redis Cluster: keys carry hash tags and
    # the scripts are split by slot (common/keys.py, common/rpc/slotted.py).
    redis_cluster: bool = False
    # Set: Redis is found through Sentinel and redis_url is not used for connections.
    sentinel: SentinelSettings | None = None
    replica_wait: ReplicaWait = ReplicaWait()

    @property
    def heartbeat_ttl(self) -> float:
        """An instance missing three heartbeats is considered dead."""
        return self.heartbeat_interval * 3

    @classmethod
    def from_env(cls, env: Env) -> RpcSettings:
        return cls(
            redis_url=_redis_url(env),
            rpc_prefix=_rpc_prefix(env),
            rpc_timeout=env.duration("RPC_TIMEOUT", 5.0),
            worker_concurrency=env.integer("WORKER_CONCURRENCY", 64, high=10_000),
            max_inflight_calls=env.integer("MAX_INFLIGHT_CALLS", 1024, high=1_000_000),
            max_queue_length=env.integer("MAX_QUEUE_LENGTH", 10_000, high=10_000_000),
            heartbeat_interval=env.duration("HEARTBEAT_INTERVAL", 1.0),
            drain_timeout=env.duration("DRAIN_TIMEOUT", 10.0),
            redis_cluster=_redis_cluster(env),
            sentinel=(sentinel := _sentinel(env)),
            replica_wait=ReplicaWait(
                # On by default where a failover can happen, that is under Sentinel.
                replicas=env.integer("REDIS_WAIT_REPLICAS", 1 if sentinel else 0, low=0, high=16),
                timeout=env.duration("REDIS_WAIT_TIMEOUT", 0.1),
            ),
        )


def _redis_url(env: Env) -> str:
    url = env.text("REDIS_URL")
    if url:
        return url
    password = env.text("REDIS_PASSWORD")
    auth = f":{quote(password, safe='')}@" if password else ""
    host = env.text("REDIS_HOST", "localhost")
    port = env.port("REDIS_PORT", 6379)
    return f"redis://{auth}{host}:{port}/0"


def _rpc_prefix(env: Env) -> str:
    prefix = env.text("RPC_PREFIX", "gatehouse") or "gatehouse"
    # Braces are hash-tag syntax on a Redis Cluster: '{gatehouse}' pins every
    # key to one slot; a layout they break is refused at start (rpc/slots.py).
    if not re.fullmatch(r"[A-Za-z0-9_.{}\-]{1,64}", prefix):
        raise ConfigError(
            f"RPC_PREFIX may hold letters, digits, '_', '.', '-', '{{', '}}' (got {prefix!r})"
        )
    return prefix


def _redis_cluster(env: Env) -> bool:
    cluster = env.boolean("REDIS_CLUSTER", False)
    if cluster and env.items("REDIS_SENTINELS"):
        raise ConfigError(
            "REDIS_CLUSTER and REDIS_SENTINELS exclude each other: a Redis Cluster "
            "fails over by itself, without Sentinel"
        )
    return cluster


def _sentinel(env: Env) -> SentinelSettings | None:
    addresses = env.items("REDIS_SENTINELS")
    if not addresses:
        return None
    if env.text("REDIS_URL"):
        raise ConfigError(
            "set REDIS_URL or REDIS_SENTINELS, not both (under Sentinel, REDIS_PASSWORD,"
            " REDIS_USERNAME, REDIS_DB and REDIS_TLS say how to reach the primary)"
        )
    parsed = []
    for address in addresses:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"REDIS_SENTINELS holds host:port pairs (got {address!r})")
        parsed.append((host.strip("[]"), int(port)))
    return SentinelSettings(
        addresses=tuple(parsed),
        master=env.text("REDIS_SENTINEL_MASTER", "mymaster") or "mymaster",
        username=env.text("REDIS_USERNAME"),
        password=env.text("REDIS_PASSWORD"),
        db=env.integer("REDIS_DB", 0, low=0, high=15),
        sentinel_password=env.text("REDIS_SENTINEL_PASSWORD"),
        tls=env.boolean("REDIS_TLS", False),
        tls_ca_file=env.text("REDIS_TLS_CA_FILE"),
    )
