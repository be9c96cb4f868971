"""Ordered migrations from ``sql/migrations/NNNN_name.sql``, applied once each.

A PostgreSQL advisory lock serialises concurrent runners (several workers
starting together); each migration runs in its own transaction together
with the row that records it, so a failure leaves nothing half-applied.
The lock is a transaction-level one, taken again by each transaction: a
session-level lock would be held by whichever server connection PgBouncer
(transaction mode) lent that statement, and released on another, never.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from loguru import logger

from common.db.queries import SQL_DIR, Queries

# Any fixed number; it only has to be the same in every Gatehouse process.
MIGRATION_LOCK_KEY = 0x6761_7465  # "gate"
_FILENAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    path: Path

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def discover(directory: Path = SQL_DIR / "migrations") -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILENAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        migrations.append(Migration(int(match.group("version")), match.group("name"), path))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a version in {directory}")
    return migrations


async def migrate(
    conn: asyncpg.Connection, queries: Queries, migrations: list[Migration] | None = None
) -> list[Migration]:
    """Apply every pending migration; returns those applied by this call."""
    pending_source = discover() if migrations is None else migrations
    async with conn.transaction():
        await queries.execute(conn, "lock_migrations", key=MIGRATION_LOCK_KEY)
        await queries.execute(conn, "create_migrations_table")
    applied = []
    for migration in pending_source:
        async with conn.transaction():
            await queries.execute(conn, "lock_migrations", key=MIGRATION_LOCK_KEY)
            # Read under the lock: another runner may have applied it meanwhile.
            applied_versions = {
                row["version"] for row in await queries.many(conn, "applied_migrations")
            }
            if migration.version in applied_versions:
                continue
            logger.info("applying migration {} {}", migration.version, migration.name)
            await conn.execute(migration.sql())
            await queries.execute(
                conn, "record_migration", version=migration.version, name=migration.name
            )
        applied.append(migration)
    return applied
