"""Named SQL queries, loaded from ``sql/queries/*.sql`` and called by name.

A file holds blocks headed ``-- name: <name><op>``; ``op`` is ``^`` for one
row, ``$`` for one value, ``!`` for a statement, nothing for many rows.
Parameters are written ``:name`` and passed as keyword arguments. Every file
is parsed at start-up, and ``check`` prepares every statement against the
database, so a broken query stops the process at once with its file and line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import asyncpg

Operation = Literal["many", "one", "value", "execute"]
_OPERATIONS: dict[str, Operation] = {"": "many", "^": "one", "$": "value", "!": "execute"}
_LOOKS_LIKE_HEADER = re.compile(r"^--\s*name\s*:", re.IGNORECASE)
_HEADER = re.compile(r"^--\s*name:\s*(?P<name>[a-z_][a-z0-9_]*)(?P<op>[\^$!]?)\s*$")
# Quoted text and comments pass through untouched; ``::`` casts are not params.
_SQL_TOKENS = re.compile(
    r"(?P<skip>'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|::)|(?<!:):(?P<param>[A-Za-z_]\w*)"
)

_COMMENT = re.compile(r"--[^\n]*")

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


class QueryFileError(ValueError):
    """A query file that cannot be used, with where the problem is."""


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    operation: Operation
    sql: str
    params: tuple[str, ...]
    source: str

    def arguments(self, given: Mapping[str, Any]) -> list[Any]:
        if set(given) != set(self.params):
            raise TypeError(f"query {self.name} takes {sorted(self.params)}, got {sorted(given)}")
        return [given[name] for name in self.params]


def _compile(name: str, operation: Operation, body: str, source: str) -> Query:
    params: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group("skip"):
            return match.group(0)
        param = match.group("param")
        if param not in params:
            params.append(param)
        return f"${params.index(param) + 1}"

    sql = _SQL_TOKENS.sub(number, body).strip()
    if not _COMMENT.sub("", sql).strip():
        raise QueryFileError(f"{source}: query {name} has no SQL")
    return Query(name, operation, sql, tuple(params), source)


def parse_file(path: Path) -> list[Query]:
    queries: list[Query] = []
    header: tuple[str, Operation, int] | None = None
    body: list[str] = []
    lines = path.read_text(encoding="utf-8").splitlines()

    def close() -> None:
        if header is not None:
            name, operation, line = header
            queries.append(_compile(name, operation, "\n".join(body), f"{path.name}:{line}"))

    for number, line in enumerate(lines, start=1):
        if _LOOKS_LIKE_HEADER.match(line.strip()):
            match = _HEADER.match(line.strip())
            if not match:
                raise QueryFileError(f"{path.name}:{number}: malformed header {line.strip()!r}")
            close()
            header = (match.group("name"), _OPERATIONS[match.group("op")], number)
            body = []
        elif header is None:
            if line.strip() and not line.strip().startswith("--"):
                raise QueryFileError(f"{path.name}:{number}: SQL before the first '-- name:'")
        else:
            body.append(line)
    close()
    return queries


class Queries:
    """Every named query of a directory; the only way Python code runs SQL."""

    def __init__(self, queries: Mapping[str, Query]) -> None:
        self._queries = dict(queries)

    @classmethod
    def load(cls, directory: Path = SQL_DIR / "queries") -> Queries:
        by_name: dict[str, Query] = {}
        files = sorted(directory.glob("*.sql"))
        if not files:
            raise QueryFileError(f"no .sql files in {directory}")
        for path in files:
            for query in parse_file(path):
                if query.name in by_name:
                    first = by_name[query.name].source
                    raise QueryFileError(f"{query.source}: {query.name} already defined at {first}")
                by_name[query.name] = query
        return cls(by_name)

    def __contains__(self, name: str) -> bool:
        return name in self._queries

    def __iter__(self) -> Any:
        return iter(self._queries.values())

    def get(self, name: str, operation: Operation) -> Query:
        query = self._queries[name]
        if query.operation != operation:
            raise TypeError(
                f"query {name} ({query.source}) is '{query.operation}', not '{operation}'"
            )
        return query

    async def one(
        self, conn: asyncpg.Connection, query_name: str, /, **params: Any
    ) -> asyncpg.Record | None:
        query = self.get(query_name, "one")
        return await conn.fetchrow(query.sql, *query.arguments(params))

    async def many(
        self, conn: asyncpg.Connection, query_name: str, /, **params: Any
    ) -> list[asyncpg.Record]:
        query = self.get(query_name, "many")
        return list(await conn.fetch(query.sql, *query.arguments(params)))

    async def value(self, conn: asyncpg.Connection, query_name: str, /, **params: Any) -> Any:
        query = self.get(query_name, "value")
        return await conn.fetchval(query.sql, *query.arguments(params))

    async def execute(self, conn: asyncpg.Connection, query_name: str, /, **params: Any) -> str:
        query = self.get(query_name, "execute")
        status: str = await conn.execute(query.sql, *query.arguments(params))
        return status

    async def check(self, conn: asyncpg.Connection) -> None:
        """Prepare every query, so a typo fails at start-up rather than on first use."""
        for query in self._queries.values():
            try:
                await conn.prepare(query.sql)
            except asyncpg.PostgresError as exc:
                raise QueryFileError(f"{query.source}: query {query.name}: {exc}") from exc
