"""A Redis primary, its replica and three sentinels on loopback ports.

Debian's ``redis-server`` and ``redis-sentinel``, no persistence, each in a
folder of its own, with sentinel timeouts short enough that a failover
completes in about two seconds. Used by the failover tests and the failover
benchmark; ``stop`` kills every process it started.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

MASTER_NAME = "gatehouse"
# How long a primary may not answer before a sentinel calls it down.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 3000
START_SECONDS = 10.0


def missing_binaries() -> list[str]:
    """The Debian binaries this module needs that are not on PATH."""
    return [name for name in ("redis-server", "redis-sentinel") if shutil.which(name) is None]


@dataclass
class RedisNode:
    port: int
    folder: Path
    popen: subprocess.Popen[bytes] | None = None

    def kill(self) -> None:
        """kill -9: no shutdown, no last replication."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(5)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=1)


@dataclass
class SentinelTopology:
    """One primary, one replica, three sentinels watching ``MASTER_NAME``."""

    root: Path
    ports: Callable[[], int]
    primary: RedisNode = field(init=False)
    replica: RedisNode = field(init=False)
    sentinels: list[RedisNode] = field(default_factory=list)

    def start(self) -> SentinelTopology:
        self.primary = self._server("primary", replica_of=None)
        self.replica = self._server("replica", replica_of=self.primary.port)
        self._wait_replicating(self.replica)
        for index in range(3):
            self.sentinels.append(self._sentinel(index))
        self.wait_master(self.primary.port)
        return self

    @property
    def env(self) -> dict[str, str]:
        """What a Gatehouse process needs to find Redis through these sentinels."""
        if not self.sentinels:
            raise RuntimeError("start the topology first: its ports are chosen then")
        return {
            "REDIS_URL": "",
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{node.port}" for node in self.sentinels),
            "REDIS_SENTINEL_MASTER": MASTER_NAME,
        }

    def master_port(self) -> int | None:
        """The primary's port as the first sentinel that answers reports it."""
        for node in self.sentinels:
            try:
                with node.client() as client:
                    answer = client.execute_command(
                        "SENTINEL", "get-master-addr-by-name", MASTER_NAME
                    )
            except redis.RedisError:
                continue
            if answer:
                return int(answer[1])
        return None

    def wait_master(self, port: int, timeout: float = 15.0) -> None:
        """Until every sentinel names ``port`` as the primary (and it says so itself)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._all_sentinels_agree(port) and _role(port) == "master":
                return
            time.sleep(0.05)
        raise RuntimeError(f"the sentinels never agreed on port {port} as the primary")

    def stop(self) -> None:
        servers = [getattr(self, "replica", None), getattr(self, "primary", None)]
        for node in [*self.sentinels, *servers]:
            if node is not None:
                node.kill()

    def _all_sentinels_agree(self, port: int) -> bool:
        for node in self.sentinels:
            try:
                with node.client() as client:
                    answer = client.execute_command(
                        "SENTINEL", "get-master-addr-by-name", MASTER_NAME
                    )
            except redis.RedisError:
                return False
            if not answer or int(answer[1]) != port:
                return False
        return True

    def _server(self, name: str, *, replica_of: int | None) -> RedisNode:
        node = RedisNode(self.ports(), self.root / name)
        node.folder.mkdir(parents=True, exist_ok=True)
        args = [
            "redis-server",
            "--bind", "127.0.0.1",
            "--port", str(node.port),
            "--dir", str(node.folder),
            "--save", "",
            "--appendonly", "no",
            # A replica promoted while its old primary is gone must accept writes.
            "--min-replicas-to-write", "0",
            # Start a replica's first sync at once, not after the default 5 s.
            "--repl-diskless-sync-delay", "0",
        ]  # fmt: skip
        if replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(replica_of)]
        node.popen = _spawn(args, node.folder / "redis.log")
        _wait_ping(node)
        return node

    def _sentinel(self, index: int) -> RedisNode:
        node = RedisNode(self.ports(), self.root / f"sentinel-{index}")
        node.folder.mkdir(parents=True, exist_ok=True)
        config = node.folder / "sentinel.conf"
        config.write_text(
            f"port {node.port}\n"
            "bind 127.0.0.1\n"
            f"dir {node.folder}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.primary.port} 2\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n"
        )
        node.popen = _spawn(["redis-sentinel", str(config)], node.folder / "sentinel.log")
        _wait_ping(node)
        return node

    def _wait_replicating(self, replica: RedisNode) -> None:
        """Until both ends agree: the replica's link is up, and the primary lists
        it as online (what ROLE, and so WAIT, count). The replica says "up" once
        it has loaded the data, the primary only after its first ACK after that."""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            with replica.client() as client:
                linked = client.info("replication").get("master_link_status") == "up"
            with self.primary.client() as client:
                info = client.info("replication")
                listed = "online" in str(info.get("slave0", {}))
            if linked and listed:
                return
            time.sleep(0.05)
        raise RuntimeError("the replica never caught up with the primary")


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT)


def _wait_ping(node: RedisNode) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        try:
            with node.client() as client:
                if client.ping():
                    return
        except redis.RedisError:
            time.sleep(0.05)
    raise RuntimeError(f"redis on port {node.port} did not start")


def _role(port: int) -> str | None:
    try:
        with redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1) as client:
            return str(client.execute_command("ROLE")[0].decode())
    except redis.RedisError:
        return None
