"""migrate() against throwaway databases: once each, in order, atomically, under a lock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from common.config.db import with_database
from common.db.migrations import MigrationError, discover, migrate
from common.db.queries import Queries
from tests.conftest import Servers


@pytest.fixture
async def fresh_database(servers: Servers) -> AsyncIterator[str]:
    """The URL of an empty database of this test's own, dropped afterwards."""
    name = f"gatehouse_migrations_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(servers.admin_database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield with_database(servers.admin_database_url, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def conn(fresh_database: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(fresh_database)
    yield connection
    await connection.close()


async def recorded(conn: asyncpg.Connection) -> list[tuple[int, str]]:
    rows = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
    return [(row["version"], row["name"]) for row in rows]


async def table_exists(conn: asyncpg.Connection, name: str) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name))


def test_discover_finds_the_real_migrations_in_order() -> None:
    migrations = discover()

    assert [(m.version, m.name) for m in migrations][:2] == [
        (1, "users_and_sessions"),
        (2, "rpc_completed"),
    ]
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)


async def test_applies_every_migration_in_order_once(
    conn: asyncpg.Connection, queries: Queries
) -> None:
    applied = await migrate(conn, queries)

    expected = [(m.version, m.name) for m in discover()]
    assert [(m.version, m.name) for m in applied] == expected
    assert await recorded(conn) == expected
    for table in ("users", "user_sessions", "rpc_completed"):
        assert await table_exists(conn, table)


async def test_a_second_run_applies_nothing(conn: asyncpg.Connection, queries: Queries) -> None:
    await migrate(conn, queries)
    before = await recorded(conn)

    assert await migrate(conn, queries) == []
    assert await recorded(conn) == before


async def test_concurrent_runs_apply_each_migration_exactly_once(
    fresh_database: str, queries: Queries
) -> None:
    connections = [await asyncpg.connect(fresh_database) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c, queries) for c in connections))
        applied_versions = sorted(m.version for result in results for m in result)
        expected = [(m.version, m.name) for m in discover()]

        assert applied_versions == [version for version, _ in expected]
        assert await recorded(connections[0]) == expected
    finally:
        for connection in connections:
            await connection.close()


@pytest.fixture
def broken_migrations(tmp_path: Path) -> Path:
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE good_table (id INTEGER);\n")
    (tmp_path / "0002_broken.sql").write_text(
        "CREATE TABLE half_table (id INTEGER);\n"
        "INSERT INTO half_table VALUES (1);\n"
        "SELECT * FROM no_such_table;\n"
    )
    (tmp_path / "0003_after.sql").write_text("CREATE TABLE after_table (id INTEGER);\n")
    return tmp_path


async def test_a_failing_migration_leaves_nothing_half_applied(
    conn: asyncpg.Connection, queries: Queries, broken_migrations: Path
) -> None:
    with pytest.raises(asyncpg.UndefinedTableError):
        await migrate(conn, queries, migrations=discover(broken_migrations))

    assert await recorded(conn) == [(1, "good")]
    assert await table_exists(conn, "good_table")
    assert not await table_exists(conn, "half_table")
    assert not await table_exists(conn, "after_table")


async def test_after_a_failure_the_lock_is_free_and_a_fixed_file_applies(
    fresh_database: str, conn: asyncpg.Connection, queries: Queries, broken_migrations: Path
) -> None:
    with pytest.raises(asyncpg.UndefinedTableError):
        await migrate(conn, queries, migrations=discover(broken_migrations))
    (broken_migrations / "0002_broken.sql").write_text("CREATE TABLE half_table (id INTEGER);\n")

    other = await asyncpg.connect(fresh_database)
    try:
        # A lock left held by the failed run would block this call forever.
        applied = await asyncio.wait_for(
            migrate(other, queries, migrations=discover(broken_migrations)), 10
        )
    finally:
        await other.close()

    assert [m.version for m in applied] == [2, 3]
    assert await recorded(conn) == [(1, "good"), (2, "broken"), (3, "after")]
    assert await table_exists(conn, "half_table")


async def test_only_pending_migrations_are_applied(
    conn: asyncpg.Connection, queries: Queries, tmp_path: Path
) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE first_table (id INTEGER);\n")
    await migrate(conn, queries, migrations=discover(tmp_path))
    (tmp_path / "0002_second.sql").write_text("CREATE TABLE second_table (id INTEGER);\n")

    applied = await migrate(conn, queries, migrations=discover(tmp_path))

    assert [(m.version, m.name) for m in applied] == [(2, "second")]
    assert await recorded(conn) == [(1, "first"), (2, "second")]


@pytest.mark.parametrize(
    "filename", ["1_short.sql", "0001-dash.sql", "0001_Upper.sql", "abcd_x.sql"]
)
def test_discover_refuses_badly_named_files(tmp_path: Path, filename: str) -> None:
    (tmp_path / filename).write_text("SELECT 1;\n")

    with pytest.raises(MigrationError, match=r"NNNN_name\.sql"):
        discover(tmp_path)


def test_discover_refuses_two_files_with_one_version(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;\n")
    (tmp_path / "0001_b.sql").write_text("SELECT 1;\n")

    with pytest.raises(MigrationError, match="share a version"):
        discover(tmp_path)
