"""Roles: who holds which, the check that an actor holds one, grants and revokes.

Every user holds ``user`` implicitly; other roles are rows of ``user_roles``.
The access token carries the role names as they were at its issue (login,
refresh); a worker serving an admin method checks the actor again against
PostgreSQL, so a revoked admin is refused on the very next call, not at the
token's expiry. Every refusal is an ``access.forbidden`` audit event.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

import asyncpg

from common.accounts.audit import Audit, Recorded
from common.db.pool import connection
from common.db.queries import Queries
from common.errors import Forbidden, NotFound, ValidationFailed
from common.rpc.message import Request
from common.security.tokens import BASE_ROLE

ADMIN = "admin"
# roles.name's CHECK (sql/migrations/0004_identity.sql).
ROLE_NAME = re.compile(r"\A[a-z][a-z0-9_-]{0,49}\Z")


class RoleGuard:
    """Refuses (403, audited) an actor who does not hold a role."""

    def __init__(self, pool: asyncpg.Pool, queries: Queries, audit: Audit) -> None:
        self._pool = pool
        self._queries = queries
        self._audit = audit

    async def require(self, request: Request, actor_id: int, role: str = ADMIN) -> None:
        async with connection(self._pool) as conn:
            held = await self._queries.value(conn, "user_has_role", user_id=actor_id, role=role)
        if not held:
            await self.refuse(request, actor_id, role, request.method)

    async def refuse(self, request: Request, actor_id: int, role: str, action: str) -> NoReturn:
        """Record the attempt in a transaction of its own, then raise Forbidden."""
        recorded = Recorded()
        async with connection(self._pool) as conn, conn.transaction():
            await self._audit.record(
                conn,
                request,
                "access.forbidden",
                user_id=actor_id,
                data={"role": role, "action": action},
                into=recorded,
            )
        await self._audit.publish(recorded)
        raise Forbidden(f"This needs the role {role!r}")


async def change_role(
    conn: asyncpg.Connection,
    queries: Queries,
    audit: Audit,
    request: Request,
    *,
    user_id: int,
    role: str,
    grant: bool,
    actor_id: int | None,
    into: Recorded,
) -> bool:
    """Grant or revoke ``role`` in the caller's transaction; whether anything changed.

    NotFound for an unknown user or role; ``user`` cannot be granted or revoked.
    ``actor_id`` None is the operator's command line.
    """
    if role == BASE_ROLE:
        raise ValidationFailed(
            details={"role": ["Every user holds the role 'user'; it cannot change."]}
        )
    if not await queries.value(conn, "role_exists", role=role):
        raise NotFound(f"No role named {role!r}")
    if await queries.one(conn, "lock_user_for_admin", user_id=user_id) is None:
        raise NotFound("User not found")
    if grant:
        changed = await queries.value(
            conn, "grant_role", user_id=user_id, role=role, granted_by=actor_id
        )
    else:
        changed = await queries.value(conn, "revoke_role", user_id=user_id, role=role)
    if changed is not None:
        data: dict[str, Any] = {"role": role, "actor_id": actor_id}
        event = "role.granted" if grant else "role.revoked"
        await audit.record(conn, request, event, user_id=user_id, data=data, into=into)
    return changed is not None
