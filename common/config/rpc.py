"""Redis and the RPC layer: where messages go, how long calls wait, how much is in flight."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from common.config.env import ConfigError, Env


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
            redis_cluster=env.boolean("REDIS_CLUSTER", False),
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
