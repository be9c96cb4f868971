"""Redis mirror of session liveness, read by the gateway on every bearer call.

PostgreSQL is the truth. The auth worker writes the owner's user id when a
session starts and ``0`` when it ends, each expiring with the session. The
gateway reads it inside the script that pushes a bearer's call (PUSH_GUARDED),
so the check costs no round trip of its own; on a miss (Redis lost its data)
it asks the auth worker, which reads PostgreSQL and writes the answer back.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime

import asyncpg
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from common.accounts.audit import Audit, Recorded
from common.db.queries import Queries
from common.errors import ServiceUnavailable
from common.keys import Keys
from common.replication import NotReplicated, ReplicaConfirm
from common.rpc.message import Request

ENDED = b"0"


def _seconds_until(expires_at: datetime | float) -> int:
    epoch = expires_at.timestamp() if isinstance(expires_at, datetime) else expires_at
    # At least one second, so an ended mark is never skipped for lack of time.
    return max(1, int(epoch - time.time()) + 1)


class SessionCache:
    """With ``replicas``, the marks are confirmed by a replica (common/replication.py)."""

    def __init__(self, redis: Redis, keys: Keys, replicas: ReplicaConfirm | None = None) -> None:
        self._redis = redis
        self._keys = keys
        self._replicas = replicas

    async def mark_live(self, session_id: int, user_id: int, expires_at: datetime | float) -> None:
        # The user id as text: what the gateway's guarded push compares it with
        # (common/rpc/scripts.py PUSH_GUARDED). A live mark a failover loses is
        # only a miss (PostgreSQL answers), so a shortfall is logged, not raised.
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self._keys.session(session_id), str(user_id), ex=_seconds_until(expires_at))
            await self._execute(pipe, "session live mark")

    async def mark_ended(self, sessions: Iterable[tuple[int, datetime | float]]) -> None:
        """Raises NotReplicated when no replica confirms it: a failover that lost an
        ended mark would bring back the live one, and the session with it."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for session_id, expires_at in sessions:
                pipe.set(self._keys.session(session_id), ENDED, ex=_seconds_until(expires_at))
            if not await self._execute(pipe, "session end mark"):
                raise NotReplicated("the session end was not confirmed by a replica")

    async def _execute(self, pipe: Pipeline, what: str) -> bool:
        if self._replicas is None:
            await pipe.execute()
            return True
        _, confirmed = await self._replicas.execute(pipe, what=what)
        return confirmed


class SessionEnder:
    """What follows ending sessions in PostgreSQL, inside the same transaction."""

    def __init__(self, cache: SessionCache, audit: Audit) -> None:
        self._cache = cache
        self._audit = audit

    async def ended(
        self,
        conn: asyncpg.Connection,
        request: Request,
        rows: Iterable[asyncpg.Record],
        *,
        user_id: int,
        reason: str,
        into: Recorded,
    ) -> int:
        """Record ``session.ended`` for each row just ended and mark them ended in Redis.

        Call before the commit: if Redis fails, the transaction rolls back and
        nothing has ended; if the commit fails after, the sessions end early,
        which is the safe side.
        """
        rows = list(rows)
        await self._audit.record_sessions_ended(
            conn,
            request,
            user_id=user_id,
            session_ids=[row["id"] for row in rows],
            reason=reason,
            into=into,
        )
        try:
            await self._cache.mark_ended((row["id"], row["expires_at"]) for row in rows)
        except RedisError as exc:
            raise ServiceUnavailable("Session store unreachable") from exc
        return len(rows)

    async def end_all(
        self,
        conn: asyncpg.Connection,
        queries: Queries,
        request: Request,
        *,
        user_id: int,
        reason: str,
        into: Recorded,
    ) -> int:
        """End every live session of ``user_id`` (PostgreSQL, audit trail, Redis); how many."""
        rows = await queries.many(conn, "end_user_sessions", user_id=user_id, reason=reason)
        return await self.ended(conn, request, rows, user_id=user_id, reason=reason, into=into)
