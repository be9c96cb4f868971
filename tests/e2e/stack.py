"""Real gateway and worker processes for end-to-end tests.

Each ``Stack`` has its own RPC_PREFIX, so stacks in one run never see each
other's requests; they share the run's database. Process output goes to log
files that are printed when a test fails.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from common.keys import Keys

STARTUP_SECONDS = 20.0
APP_MODULES = {"gateway": "gateway_app", "user": "user_app", "auth": "auth_app"}


# Listening ports for the processes tests start: below Linux's default range of
# ports for outgoing connections (32768-60999), so that no client socket of
# this machine can take one between the test picking it and the process
# binding it, and never the same one twice in a run.
_LISTEN_PORTS = range(20_000, 32_000)
_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now, not handed out before in this run."""
    for _ in range(1000):
        port = random.choice(_LISTEN_PORTS)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))  # noqa: S104 - as the processes bind
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port found")


# honcho numbers the ports of a Procfile's process types from the base by 100s.
PORT_OFFSETS = (0, 100, 200)


def free_base_port(per_type: int = 1) -> int:
    """A base port p under which honcho's ports are free: p, p+100.. and p+200..

    ``per_type`` processes of each type take consecutive ports from their offset.
    """
    wanted = [offset + index for offset in PORT_OFFSETS for index in range(per_type)]
    for _ in range(200):
        base = free_port()
        if base + max(wanted) < 65536 and all(_free(base + offset) for offset in wanted):
            return base
    raise RuntimeError("no free range of ports for honcho")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("0.0.0.0", port))  # noqa: S104 - where the services listen
        except OSError:
            return False
    return True


@dataclass
class Process:
    service: str
    port: int
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def wait(self, timeout: float = 15.0) -> int:
        return self.popen.wait(timeout)

    def running(self) -> bool:
        return self.popen.poll() is None


@dataclass
class Stack:
    env: dict[str, str]
    logs: Path
    processes: list[Process] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return self.env["RPC_PREFIX"]

    @property
    def keys(self) -> Keys:
        """The Redis key names this stack's processes use."""
        return Keys(self.prefix, cluster=self.env.get("REDIS_CLUSTER") == "true")

    @property
    def gateway(self) -> Process:
        return next(p for p in self.processes if p.service == "gateway" and p.running())

    @property
    def url(self) -> str:
        return self.gateway.url

    def start(
        self, service: str, *, wait: bool = True, port: int | None = None, **env: str
    ) -> Process:
        """Start ``service`` on ``port`` (a free one by default: a test that must
        know the gateway's URL before it starts, as an issuer, picks its own)."""
        port = port or free_port()
        log = self.logs / f"{service}-{port}.log"
        with log.open("wb") as output:
            popen = subprocess.Popen(
                [sys.executable, "-m", APP_MODULES[service]],
                env={**os.environ, **self.env, **env, "PORT": str(port)},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        process = Process(service, port, popen, log)
        self.processes.append(process)
        if wait:
            self.wait_ready(process)
        return process

    def wait_ready(self, process: Process) -> None:
        """Until the process answers on its port (the gateway: 200 once workers are up)."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if not process.running():
                raise RuntimeError(f"{process.service} exited:\n{process.log.read_text()}")
            try:
                if httpx.get(f"{process.url}/health", timeout=1).status_code < 600:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{process.service} did not start:\n{process.log.read_text()}")

    def wait_for_instances(self, service: str, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = httpx.get(f"{self.url}/services", timeout=2).json()
            if len(body["services"].get(service, [])) == count:
                return
            time.sleep(0.05)
        raise AssertionError(f"{service} never had {count} live instance(s)")

    def stop(self) -> None:
        for process in self.processes:
            if process.running():
                process.signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.wait(5)
        self.forget_keys()

    def forget_keys(self) -> None:
        """Delete this stack's Redis keys (sessions, registry), leaving the server clean."""
        if not self.env.get("REDIS_URL"):
            return  # Redis found through Sentinel: the test's own servers, stopped with it
        client = redis.Redis.from_url(self.env["REDIS_URL"], socket_connect_timeout=1)
        try:
            for key in client.scan_iter(match=f"{self.prefix}:*", count=1000):
                client.delete(key)
        except redis.RedisError:
            pass  # a test's own server, already stopped
        finally:
            client.close()

    def dump_logs(self) -> str:
        return "\n".join(
            f"----- {p.service} (pid {p.pid}) -----\n{p.log.read_text(errors='replace')[-4000:]}"
            for p in self.processes
        )


def full_stack(stack: Stack) -> Stack:
    stack.start("user")
    stack.start("auth")
    stack.start("gateway")
    stack.wait_for_instances("user", 1)
    stack.wait_for_instances("auth", 1)
    return stack
