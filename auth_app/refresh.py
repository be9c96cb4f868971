"""Sessions' token pairs: issued at login, rotated on every refresh.

A refresh token is 256 random bits, stored only as a hash and bound to one
session. Using it rotates it: the session gets a new access and refresh
token, and the old refresh token row keeps that successor pair sealed with
a key derived from the old token (AES-GCM, common/security/sealing.py, bound
to the row's token hash), so that presenting the old
token again within ``REFRESH_REUSE_INTERVAL`` (a client's retry, or several
tabs racing) answers the same pair and the session never forks. Later, the
same presentation is taken for theft: the session ends, and with it every
access and refresh token descended from it.

Idempotent by construction: a refresh redelivered after a worker crash
presents a token that has just rotated, and gets the pair it rotated to.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from loguru import logger
from redis.exceptions import RedisError

from auth_app.account_state import check_account_state
from common import json_codec
from common.accounts.audit import Audit, Recorded
from common.accounts.sessions import SessionCache, SessionEnder
from common.db.pool import connection
from common.errors import InvalidToken
from common.rpc.message import Request
from common.security.opaque_tokens import new_token, token_hash
from common.security.sealing import SealBroken, seal_for_token, unseal_for_token
from common.worker import WorkerContext

TOKEN_TYPE = "Bearer"  # noqa: S105 (a scheme name, not a secret)


@dataclass(frozen=True, slots=True)
class Issued:
    """A session's current pair, and when the session itself expires."""

    session_id: int
    user_id: int
    access_token: str
    access_expires: int
    refresh_token: str
    session_expires: float

    def answer(self, user: dict[str, Any]) -> dict[str, Any]:
        """What login and refresh answer (the gateway adds success and message)."""
        return {
            "token": self.access_token,
            "expires_at": self.access_expires,
            "expires_in": max(0, self.access_expires - int(time.time())),
            "refresh_token": self.refresh_token,
            "token_type": TOKEN_TYPE,
            "user": user,
        }


def public_user(row: asyncpg.Record) -> dict[str, Any]:
    return {"id": row["id"], "username": row["username"], "email": row["email"]}


class SessionTokens:
    def __init__(self, ctx: WorkerContext, audit: Audit, cache: SessionCache) -> None:
        self._ctx = ctx
        self._audit = audit
        self._cache = cache
        self._ender = SessionEnder(cache, audit)

    async def start(
        self,
        conn: asyncpg.Connection,
        request: Request,
        user: asyncpg.Record,
        *,
        into: Recorded,
        amr: Sequence[str] = ("pwd",),
    ) -> Issued:
        """A new session for ``user`` on ``conn``, in its transaction; ``amr`` says how
        its owner proved who they are (RFC 8176 values)."""
        ctx = self._ctx
        session_id = await ctx.queries.value(conn, "next_session_id")
        roles = await ctx.queries.value(conn, "get_user_roles", user_id=user["id"])
        issued = self._issue(session_id, user["id"], roles)
        await ctx.queries.execute(
            conn,
            "insert_session",
            session_id=session_id,
            user_id=user["id"],
            token_hash=token_hash(issued.access_token),
            expires_at=datetime.fromtimestamp(issued.session_expires, UTC),
            user_agent=request.user_agent,
            ip=request.client_ip,
            amr=list(amr),
        )
        await ctx.queries.execute(
            conn,
            "insert_refresh_token",
            token_hash=token_hash(issued.refresh_token),
            session_id=session_id,
        )
        await self._audit.record(
            conn,
            request,
            "session.created",
            user_id=user["id"],
            data={"session_id": session_id},
            into=into,
        )
        return issued

    async def mirror_live(self, session_id: int, user_id: int, expires_at: float) -> None:
        try:
            await self._cache.mark_live(session_id, user_id, expires_at)
        except RedisError as exc:
            # The gateway falls back to check_session, which repopulates.
            logger.warning("session {} not mirrored to Redis: {}", session_id, exc)

    async def refresh(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx = self._ctx
        presented = params["refresh_token"]
        recorded = Recorded()
        async with connection(ctx.pool) as conn, conn.transaction():
            row = await ctx.queries.one(
                conn,
                "lock_refresh_token",
                token_hash=token_hash(presented),
                reuse_interval=ctx.settings.auth.refresh_reuse_interval,
            )
            if row is None:
                raise InvalidToken("Unknown refresh token")
            # A disabled (or, when required, unverified) account refreshes nothing.
            await check_account_state(ctx, conn, {"id": row["user_id"]})
            if not row["live"]:
                raise InvalidToken("Session has ended; log in again")
            if row["rotated_at"] is None:
                answer = await self._rotate(conn, row, presented)
            elif row["within_reuse_interval"]:
                answer = self._successor(presented, row)
            else:
                ended = await ctx.queries.many(
                    conn,
                    "end_session",
                    session_id=row["session_id"],
                    user_id=row["user_id"],
                    reason="reuse",
                )
                await self._ender.ended(
                    conn, request, ended, user_id=row["user_id"], reason="reuse", into=recorded
                )
                answer = None
        await self._audit.publish(recorded)
        if answer is None:
            logger.warning("refresh token reused; session {} ended", row["session_id"])
            raise InvalidToken("Refresh token already used; the session has ended")
        return dict(answer)

    async def _rotate(
        self, conn: asyncpg.Connection, row: asyncpg.Record, presented: str
    ) -> dict[str, Any]:
        ctx = self._ctx
        user = await ctx.queries.one(conn, "get_user_profile", user_id=row["user_id"])
        if user is None:
            raise InvalidToken("The token's user no longer exists")
        # The roles as granted now: a grant or revoke shows at the next refresh.
        roles = await ctx.queries.value(conn, "get_user_roles", user_id=row["user_id"])
        issued = self._issue(row["session_id"], row["user_id"], roles)
        answer = issued.answer(public_user(user))
        await ctx.queries.execute(
            conn,
            "extend_session",
            session_id=row["session_id"],
            token_hash=token_hash(issued.access_token),
            expires_at=datetime.fromtimestamp(issued.session_expires, UTC),
        )
        await ctx.queries.execute(
            conn,
            "insert_refresh_token",
            token_hash=token_hash(issued.refresh_token),
            session_id=row["session_id"],
        )
        await ctx.queries.execute(
            conn,
            "rotate_refresh_token",
            token_hash=token_hash(presented),
            sealed_successor=seal_for_token(
                presented, json_codec.dumps(answer), bound_to=token_hash(presented).encode()
            ),
        )
        # Before the commit: a live mark that outlives a failed commit only
        # extends the TTL of a session that is live anyway.
        await self.mirror_live(row["session_id"], row["user_id"], issued.session_expires)
        return answer

    @staticmethod
    def _successor(presented: str, row: asyncpg.Record) -> dict[str, Any]:
        """The pair a token rotated to, opened with that token; 401 if it does not open.

        A sealed value that fails authentication was altered in the database
        (or sealed in the format before AES-GCM, a row at most
        REFRESH_REUSE_INTERVAL old at the upgrade): fail closed. The presenter
        gets nothing, and the session is neither ended nor forked: whoever
        holds the successor pair keeps using it.
        """
        try:
            opened = unseal_for_token(
                presented, row["sealed_successor"] or b"", bound_to=token_hash(presented).encode()
            )
        except SealBroken as exc:
            logger.error("session {}: sealed successor refused: {}", row["session_id"], exc)
            raise InvalidToken("Refresh token already used") from None
        answer: dict[str, Any] = json_codec.loads(opened)
        answer["expires_in"] = max(0, answer["expires_at"] - int(time.time()))
        return answer

    def _issue(self, session_id: int, user_id: int, roles: Sequence[str]) -> Issued:
        access, access_expires = self._ctx.signer().issue(
            user_id=user_id, session_id=session_id, roles=roles
        )
        return Issued(
            session_id=session_id,
            user_id=user_id,
            access_token=access,
            access_expires=access_expires,
            refresh_token=new_token(),
            session_expires=time.time() + self._ctx.settings.auth.refresh_expires_in,
        )
