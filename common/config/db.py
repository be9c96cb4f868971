"""PostgreSQL: where it is and how many connections each worker keeps."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from common.config.env import Env


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    database_url: str
    db_pool_min: int = 1
    db_pool_max: int = 10
    # asyncpg's cache of named prepared statements per connection. 0 behind a
    # pooler that cannot follow them (PgBouncer < 1.21 in transaction mode, or
    # 1.21+ without max_prepared_statements): every query is then parsed and
    # planned on each call, through unnamed statements.
    db_statement_cache_size: int = 100

    @classmethod
    def from_env(cls, env: Env) -> DatabaseSettings:
        db_pool_max = env.integer("DB_POOL_MAX", 10, high=1000)
        return cls(
            database_url=_database_url(env),
            db_pool_min=env.integer("DB_POOL_MIN", 1, low=0, high=db_pool_max),
            db_pool_max=db_pool_max,
            db_statement_cache_size=env.integer(
                "DB_STATEMENT_CACHE_SIZE", 100, low=0, high=100_000
            ),
        )


def _database_url(env: Env) -> str:
    url = env.text("DATABASE_URL")
    if url:
        return url
    user = quote(env.text("DB_USER", "postgres") or "", safe="")
    password = env.text("DB_PASSWORD")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    host = env.text("DB_HOST", "localhost")
    port = env.port("DB_PORT", 5432)
    name = env.text("DB_NAME", "microservices")
    if host and host.startswith("/"):
        # A unix socket folder, as libpq reads DB_HOST/PGHOST: it goes in the query.
        return f"postgresql://{auth}@/{name}?host={quote(host, safe='/')}&port={port}"
    return f"postgresql://{auth}@{host}:{port}/{name}"


def with_database(url: str, name: str) -> str:
    """``url`` naming database ``name`` instead: the path, and only the path, changes.

    A URL is parsed, never cut at its last ``/``: a server reached over a unix
    socket has a URL such as ``postgresql://postgres:@/postgres?host=/run/pg``
    (embedded PostgreSQL's), whose last ``/`` is inside the socket folder.
    """
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def database_of(url: str) -> str:
    """The database a PostgreSQL URL names (its path), whatever its query holds."""
    return urlsplit(url).path.lstrip("/")
