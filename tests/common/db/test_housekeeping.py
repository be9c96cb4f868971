"""Spent refresh tokens and stale reset tokens are purged; usable ones stay."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from common.db.housekeeping import purge_spent_tokens
from common.db.queries import Queries
from common.security.opaque_tokens import new_token, token_hash


async def session_with_token(
    conn: asyncpg.Connection, queries: Queries, user_id: int, *, live: bool
) -> str:
    session_id = await queries.value(conn, "next_session_id")
    await queries.execute(
        conn,
        "insert_session",
        session_id=session_id,
        user_id=user_id,
        token_hash="-",
        expires_at=datetime.now(UTC) + timedelta(days=1),
        user_agent=None,
        ip=None,
        amr=["pwd"],
    )
    digest = token_hash(new_token())
    await queries.execute(conn, "insert_refresh_token", token_hash=digest, session_id=session_id)
    if not live:
        await queries.many(
            conn, "end_session", session_id=session_id, user_id=user_id, reason="logout"
        )
    return digest


async def test_purge_keeps_live_sessions_tokens_and_fresh_resets(
    pool: asyncpg.Pool, queries: Queries, unique: Callable[[str], str]
):
    name = unique("purge")
    async with pool.acquire() as conn:
        user = await queries.one(
            conn, "insert_user", username=name, email=f"{name}@example.com", password_hash="x"
        )
        assert user is not None
        live = await session_with_token(conn, queries, user["id"], live=True)
        ended = await session_with_token(conn, queries, user["id"], live=False)
        for digest, age in (("fresh-" + name, 0), ("stale-" + name, 3)):
            await queries.execute(
                conn,
                "insert_password_reset",
                token_hash=digest,
                user_id=user["id"],
                password_fingerprint="x",
                expires_at=datetime.now(UTC) - timedelta(days=age),
            )

    assert await purge_spent_tokens(pool, queries) >= 2

    async with pool.acquire() as conn:
        kept = {
            r["token_hash"]
            for r in await conn.fetch("SELECT token_hash FROM session_refresh_tokens")
        }
        resets = {
            r["token_hash"] for r in await conn.fetch("SELECT token_hash FROM password_resets")
        }
    assert live in kept
    assert ended not in kept
    assert "fresh-" + name in resets
    assert "stale-" + name not in resets


async def test_long_expired_email_links_are_purged(pool: asyncpg.Pool, queries: Queries) -> None:
    name = f"links_{uuid.uuid4().hex[:8]}"
    async with pool.acquire() as conn:
        user_id = await conn.fetchval(
            "INSERT INTO users (username, email, password_hash) VALUES ($1, $2, 'x') RETURNING id",
            name,
            f"{name}@example.com",
        )
        for label, age in (("stale", 2), ("fresh", 0)):
            await queries.execute(
                conn,
                "insert_email_token",
                token_hash=f"{label}-{name}",
                user_id=user_id,
                purpose="verify",
                email=f"{name}@example.com",
                expires_at=datetime.now(UTC) - timedelta(days=age),
            )

    assert await purge_spent_tokens(pool, queries) >= 1

    async with pool.acquire() as conn:
        left = {r["token_hash"] for r in await conn.fetch("SELECT token_hash FROM email_tokens")}
    assert f"fresh-{name}" in left
    assert f"stale-{name}" not in left
