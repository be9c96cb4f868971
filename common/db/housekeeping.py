"""Deleting refresh and reset tokens that can no longer be used, so their tables stay small."""

from __future__ import annotations

import asyncpg

from common.db.pool import connection
from common.db.queries import Queries

# Past expiry, a reset token's row only lets a late click say "expired" rather than "unknown".
KEEP_EXPIRED_RESETS_SECONDS = 86400


async def purge_spent_tokens(pool: asyncpg.Pool, queries: Queries) -> int:
    """Delete refresh tokens of ended or expired sessions, long-expired resets and email links."""
    async with connection(pool) as conn:
        refresh: int = await queries.value(conn, "purge_spent_refresh_tokens")
        resets: int = await queries.value(
            conn, "purge_stale_password_resets", keep_seconds=KEEP_EXPIRED_RESETS_SECONDS
        )
        # Emailed verification and change links: the same rule as resets.
        email_links: int = await queries.value(
            conn, "purge_stale_email_tokens", keep_seconds=KEEP_EXPIRED_RESETS_SECONDS
        )
    return refresh + resets + email_links
