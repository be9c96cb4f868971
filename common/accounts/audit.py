"""The audit trail: events written with the change they describe, published after.

``Audit.record`` inserts a row into ``audit_events`` on the caller's
connection, inside the caller's transaction, so an event exists exactly when
its change committed. ``Audit.publish`` sends the recorded events on the
events channel once the transaction has committed; pub/sub is at most once,
the table is the record.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from loguru import logger
from redis.asyncio import Redis
from redis.exceptions import RedisError

from common import json_codec
from common.db.queries import Queries
from common.keys import Keys
from common.rpc.message import Request

EVENT_TYPES = frozenset(
    {
        "user.created",
        "user.updated",
        "user.deleted",
        "user.password_changed",
        "user.password_reset",
        "session.created",
        "session.ended",
        "login.failed",
        "login.throttled",
        # Second factors (auth_app/mfa/).
        "mfa.totp_enrolled",
        "mfa.totp_disabled",
        "mfa.verified",
        "mfa.failed",
        "mfa.throttled",
        "mfa.recovery_code_used",
        "mfa.recovery_codes_regenerated",
        # Verified email, roles and the admin API (identity); admin actions
        # name their actor in data.actor_id.
        "login.refused",
        "user.email_verified",
        "user.email_change_requested",
        "user.email_changed",
        "user.disabled",
        "user.enabled",
        "user.sessions_revoked",
        "user.mfa_requirement_changed",
        "role.granted",
        "role.revoked",
        "role.mfa_requirement_changed",
        "access.forbidden",
        # Passkeys (auth_app/passkeys/).
        "webauthn.registered",
        "webauthn.deleted",
        "webauthn.login",
        "webauthn.login_failed",
        "webauthn.sign_count_regressed",
        # The OpenID Connect provider (auth_app/oidc/).
        "oauth.client_created",
        "oauth.client_secret_rotated",
        "oauth.client_removed",
        "oauth.consent_granted",
        "oauth.consent_revoked",
        "oauth.tokens_issued",
        "oauth.grant_revoked",
        "oauth.refused",
    }
)


@dataclass(slots=True)
class Recorded:
    """Events recorded in one transaction, to publish once it has committed."""

    events: list[dict[str, Any]] = field(default_factory=list)


class Audit:
    def __init__(self, redis: Redis, keys: Keys, queries: Queries) -> None:
        self._redis = redis
        self._keys = keys
        self._queries = queries

    async def record(
        self,
        conn: asyncpg.Connection,
        request: Request,
        event_type: str,
        *,
        user_id: int | None,
        data: dict[str, Any] | None = None,
        into: Recorded,
    ) -> None:
        """Insert one event on ``conn`` (in its transaction) and remember it in ``into``."""
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown audit event type {event_type!r}")
        event_id = uuid.uuid4().hex
        occurred_at = await self._queries.value(
            conn,
            "insert_audit_event",
            event_id=event_id,
            type=event_type,
            user_id=user_id,
            ip=request.client_ip,
            user_agent=request.user_agent,
            request_id=request.request_id,
            data=data or {},
        )
        into.events.append(
            {
                "type": event_type,
                "id": event_id,
                "occurred_at": occurred_at.isoformat(),
                "request_id": request.request_id,
                "user_id": user_id,
                "data": data or {},
            }
        )

    async def record_sessions_ended(
        self,
        conn: asyncpg.Connection,
        request: Request,
        *,
        user_id: int,
        session_ids: Iterable[int],
        reason: str,
        into: Recorded,
    ) -> None:
        for session_id in session_ids:
            await self.record(
                conn,
                request,
                "session.ended",
                user_id=user_id,
                data={"session_id": session_id, "reason": reason},
                into=into,
            )

    async def publish(self, recorded: Recorded) -> None:
        """Publish after the commit; a Redis failure loses the message, not the row."""
        if not recorded.events:
            return
        messages = [json_codec.dumps(event) for event in recorded.events]
        try:
            if self._keys.cluster:
                # A cluster pipeline refuses PUBLISH (it has no key to route
                # by): one command each, in order, to any node.
                for message in messages:
                    await self._redis.publish(self._keys.events, message)
            else:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for message in messages:
                        pipe.publish(self._keys.events, message)
                    await pipe.execute()
        except RedisError as exc:
            logger.warning("{} event(s) not published: {}", len(recorded.events), exc)
        recorded.events.clear()


def public_event(row: asyncpg.Record) -> dict[str, Any]:
    """An audit row as ``GET /api/auth/audit`` shows it."""
    return {
        "id": row["event_id"],
        "type": row["type"],
        "occurred_at": row["occurred_at"].isoformat(),
        "ip": row["ip"],
        "user_agent": row["user_agent"],
        "request_id": row["request_id"],
        "data": row["data"],
    }
