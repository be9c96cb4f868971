"""Servers in the topologies a deployment outgrows one machine with, started by tests.

A 3-primary Redis Cluster from Debian's redis-server, and PgBouncer in
transaction mode in front of the suite's PostgreSQL. Each runs on loopback
ports from ``free_port`` and is stopped (its files removed) at the end.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from tests.e2e.stack import free_port

REDIS_APT = "apt-get install -y redis-server"
PGBOUNCER_APT = "apt-get install -y pgbouncer"
START_SECONDS = 20.0


def require(binary: str, apt: str) -> str:
    """The path of ``binary``, or skip the test with the apt command that installs it."""
    path = shutil.which(binary) or (Path("/usr/sbin") / binary).as_posix()
    if not Path(path).exists():
        pytest.skip(f"{binary} not installed: {apt}")
    return path


def _wait(ready: object, what: str, processes: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{what}: a server exited with {process.returncode}")
        if ready():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {START_SECONDS}s")


def _port_with_bus() -> int:
    """A free port whose cluster bus port (port + 10000) is free as well."""
    for _ in range(100):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


@dataclass
class RedisCluster:
    """Three primaries, no replicas, every slot assigned; ``url`` names the first node."""

    folder: Path
    ports: list[int] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)

    def start(self) -> RedisCluster:
        """Start the nodes and join them; on any failure stop what was started."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> RedisCluster:
        server = require("redis-server", REDIS_APT)
        cli = require("redis-cli", REDIS_APT)
        for _ in range(3):
            port = _port_with_bus()
            self.ports.append(port)
            options = {
                "port": str(port),
                "bind": "127.0.0.1",
                "cluster-enabled": "yes",
                "cluster-config-file": str(self.folder / f"nodes-{port}.conf"),
                "cluster-node-timeout": "3000",
                "dir": str(self.folder),
                "save": "",
                "appendonly": "no",
                "logfile": str(self.folder / f"redis-{port}.log"),
            }
            argv = [server, *(a for name, value in options.items() for a in (f"--{name}", value))]
            self.processes.append(
                subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        _wait(self._all_answer, "redis cluster nodes", self.processes)
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        create = [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"]
        subprocess.run(create, check=True, capture_output=True, timeout=60)
        _wait(self._all_ok, "redis cluster", self.processes)
        return self

    def _all_answer(self) -> bool:
        try:
            return all(self.node(port).ping() for port in self.ports)
        except redis.RedisError:
            return False

    def _all_ok(self) -> bool:
        for port in self.ports:
            info = self.node(port).cluster("info")
            if info.get("cluster_state") != "ok" or int(info.get("cluster_slots_ok", 0)) != 16384:
                return False
        return True

    def node_ids(self) -> dict[int, str]:
        """Port -> node id of each primary."""
        return {
            port: self.node(port).execute_command("CLUSTER", "MYID").decode() for port in self.ports
        }

    def owner(self, slot: int) -> int:
        """The port of the node serving ``slot``."""
        for start, end, (_, port, *_), *_ in self.node(self.ports[0]).execute_command(
            "CLUSTER", "SLOTS"
        ):
            if start <= slot <= end:
                return int(port)
        raise LookupError(slot)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


PGBOUNCER_INI = """\
[databases]
* = host={host} port={port} user={user}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen}
unix_socket_dir =
auth_type = any
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,application_name
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
"""


@dataclass
class PgBouncer:
    """Debian's pgbouncer in transaction mode, passing any database to ``upstream_url``."""

    folder: Path
    upstream_url: str
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def url_for(self, database_url: str) -> str:
        """``database_url`` (a database on the upstream server) through PgBouncer."""
        parts = urlsplit(database_url)
        netloc = parts.netloc.rsplit("@", 1)
        auth = f"{netloc[0]}@" if len(netloc) == 2 else ""
        return parts._replace(netloc=f"{auth}127.0.0.1:{self.port}").geturl()

    def start(self) -> PgBouncer:
        binary = require("pgbouncer", PGBOUNCER_APT)
        upstream = urlsplit(self.upstream_url)
        if not upstream.hostname:
            # Embedded PostgreSQL listens on a socket of a user PgBouncer is not.
            raise RuntimeError(
                "the PgBouncer topology needs PostgreSQL on TCP: set TEST_DATABASE_URL"
            )
        self.port = free_port()
        config = self.folder / "pgbouncer.ini"
        config.write_text(
            PGBOUNCER_INI.format(
                host=upstream.hostname,
                port=upstream.port or 5432,
                # auth_type=any: clients are not checked, PgBouncer logs in as this user.
                user=upstream.username or "postgres",
                listen=self.port,
                folder=self.folder,
            )
        )
        # pgbouncer refuses to run as root; Debian's package brings its user.
        user = ["--user", "postgres"] if _is_root() else []
        self.folder.chmod(0o777)
        self.process = subprocess.Popen(
            [binary, *user, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait(self._answers, "pgbouncer", [self.process])
        except BaseException:
            self.stop()
            raise
        return self

    def _answers(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _is_root() -> bool:
    import os

    return os.geteuid() == 0
