"""The admin API's user-data side: find users, show one, grant and revoke
roles, require a second factor of a user or of a role.

Every method first checks the actor against PostgreSQL (RoleGuard): the
token's ``roles`` let the gateway refuse early, this makes a revoke count on
the very next call. Writes run exactly once per message and are audit events
naming the actor (``data.actor_id``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from common.accounts.admin_schemas import (
    AdminListParams,
    AdminRoleMfaParams,
    AdminRoleParams,
    AdminTargetParams,
    AdminUserMfaParams,
)
from common.accounts.audit import Audit, Recorded
from common.accounts.cursor import decode_cursor, encode_cursor
from common.accounts.roles import RoleGuard, change_role
from common.db.idempotency import run_once
from common.db.pool import connection
from common.errors import NotFound
from common.rpc.message import Request
from common.rpc.server import Method
from common.worker import WorkerContext

LIST_QUERIES = {
    "created_at": "admin_users_by_created",
    "username": "admin_users_by_username",
    "email": "admin_users_by_email",
}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def listed_user(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "username": row["username"],
        "email": row["email"],
        "created_at": row["created_at"].isoformat(),
        "email_verified": row["email_verified_at"] is not None,
        "disabled": row["disabled_at"] is not None,
        "last_login_at": _iso(row["last_login_at"]),
    }


def like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its own % _ and \\ taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _sort_key(sort: str, row: asyncpg.Record) -> Any:
    return row["created_at"] if sort == "created_at" else row[sort].lower()


class UserAdmin:
    def __init__(self, ctx: WorkerContext, audit: Audit) -> None:
        self._ctx = ctx
        self._audit = audit
        self._guard = RoleGuard(ctx.pool, ctx.queries, audit)

    def methods(self) -> Mapping[str, Method]:
        return {
            "user.admin_list": Method(self.list_users, AdminListParams()),
            "user.admin_show": Method(self.show_user, AdminTargetParams()),
            "user.admin_grant_role": Method(self.grant_role, AdminRoleParams()),
            "user.admin_revoke_role": Method(self.revoke_role, AdminRoleParams()),
            "user.admin_user_mfa": Method(self.require_user_mfa, AdminUserMfaParams()),
            "user.admin_role_mfa": Method(self.require_role_mfa, AdminRoleMfaParams()),
        }

    async def list_users(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        await self._guard.require(request, params["user_id"])
        sort, limit = params["sort"], params["limit"]
        after: tuple[Any, int | None] = (None, None)
        if params.get("cursor"):
            after = decode_cursor(sort, params["cursor"])
        position = {"after_created": after[0]} if sort == "created_at" else {"after_text": after[0]}
        q = params.get("q")
        async with connection(self._ctx.pool) as conn:
            rows = await self._ctx.queries.many(
                conn,
                LIST_QUERIES[sort],
                pattern=like_pattern(q) if q else None,
                after_id=after[1],
                limit=limit + 1,
                **position,
            )
        page = rows[:limit]
        more = len(rows) > limit
        next_cursor = (
            encode_cursor(sort, _sort_key(sort, page[-1]), page[-1]["id"]) if more else None
        )
        return {"users": [listed_user(row) for row in page], "next_cursor": next_cursor}

    async def show_user(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        await self._guard.require(request, params["user_id"])
        async with connection(self._ctx.pool) as conn:
            row = await self._ctx.queries.one(conn, "admin_get_user", user_id=params["target"])
            if row is None:
                raise NotFound("User not found")
            sessions = await self._ctx.queries.many(
                conn, "admin_user_sessions", user_id=params["target"]
            )
        return {
            "user": listed_user(row)
            | {
                "roles": list(row["roles"]),
                # enrolled: the MFA engineer's to fill from its own tables; null
                # here means "not known on this branch", never "no".
                "mfa": {
                    "required": row["mfa_required"],
                    "required_by_role": row["role_mfa_required"],
                    "enrolled": None,
                },
                "sessions": [
                    {
                        "id": s["id"],
                        "created_at": s["created_at"].isoformat(),
                        "last_used_at": s["last_used_at"].isoformat(),
                        "user_agent": s["user_agent"],
                        "ip": s["ip"],
                        "amr": list(s["amr"]),
                    }
                    for s in sessions
                ],
            }
        }

    async def grant_role(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        return await self._change_role(params, request, grant=True)

    async def revoke_role(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        return await self._change_role(params, request, grant=False)

    async def _change_role(
        self, params: dict[str, Any], request: Request, *, grant: bool
    ) -> dict[str, Any]:
        await self._guard.require(request, params["user_id"])
        ctx = self._ctx
        recorded = Recorded()

        async def apply(conn: asyncpg.Connection) -> dict[str, Any]:
            changed = await change_role(
                conn,
                ctx.queries,
                self._audit,
                request,
                user_id=params["target"],
                role=params["role"],
                grant=grant,
                actor_id=params["user_id"],
                into=recorded,
            )
            roles = await ctx.queries.value(conn, "get_user_roles", user_id=params["target"])
            return {"changed": changed, "roles": list(roles)}

        result = await self._write(request, apply)
        await self._audit.publish(recorded)
        return result

    async def require_user_mfa(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        await self._guard.require(request, params["user_id"])
        recorded = Recorded()

        async def apply(conn: asyncpg.Connection) -> dict[str, Any]:
            target, required = params["target"], params["required"]
            found = await self._ctx.queries.one(
                conn, "set_user_mfa_required", user_id=target, required=required
            )
            if found is None:
                raise NotFound("User not found")
            data = {"required": required, "actor_id": params["user_id"]}
            await self._audit.record(
                conn,
                request,
                "user.mfa_requirement_changed",
                user_id=target,
                data=data,
                into=recorded,
            )
            return {"mfa_required": required}

        result = await self._write(request, apply)
        await self._audit.publish(recorded)
        return result

    async def require_role_mfa(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        await self._guard.require(request, params["user_id"])
        recorded = Recorded()

        async def apply(conn: asyncpg.Connection) -> dict[str, Any]:
            role, required = params["role"], params["required"]
            found = await self._ctx.queries.value(
                conn, "set_role_mfa_required", role=role, required=required
            )
            if found is None:
                raise NotFound(f"No role named {role!r}")
            data = {"role": role, "required": required, "actor_id": params["user_id"]}
            # No user is the subject: the event is the actor's.
            await self._audit.record(
                conn,
                request,
                "role.mfa_requirement_changed",
                user_id=params["user_id"],
                data=data,
                into=recorded,
            )
            return {"role": role, "mfa_required": required}

        result = await self._write(request, apply)
        await self._audit.publish(recorded)
        return result

    async def _write(self, request: Request, apply: Any) -> dict[str, Any]:
        """``apply(conn)`` once per message id (a redelivery gets the stored reply)."""
        ctx = self._ctx

        async def run() -> dict[str, Any]:
            result: dict[str, Any] = await run_once(ctx.pool, ctx.queries, request, apply)
            return result

        return await ctx.once(request, run)
