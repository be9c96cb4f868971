"""What a service's handlers may use, built once per process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
from redis.asyncio import Redis

from common.config import Settings
from common.db.idempotency import once_per_message
from common.db.queries import Queries
from common.keys import Keys
from common.metrics import WorkerMetrics
from common.replication import ReplicaConfirm
from common.rpc.message import Request
from common.rpc.server import Method
from common.rpc.stats import RpcStats
from common.security.passwords import PasswordHasher
from common.security.tokens import TokenSigner

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
    # Confirms the writes that must survive a Redis failover (REDIS_WAIT_REPLICAS).
    replicas: ReplicaConfirm | None = None

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
