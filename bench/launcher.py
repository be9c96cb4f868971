"""The processes a benchmark measures: started, timed to health, stopped.

Unlike the test suite's stack (tests/e2e/stack.py), this needs nothing but
the installed package: ``gatehouse bench`` runs from a fresh clone.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.procstat import memory_kib

STARTUP_PATIENCE_SECONDS = 30.0
MODULES = {
    "gateway": "gateway_app",
    "user": "user_app",
    "auth": "auth_app",
    "baseline": "bench.baseline_app",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_status(port: int, path: str, *, timeout: float = 1.0) -> int | None:
    """Status of a GET on loopback, None when nothing answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


@dataclass
class Launched:
    name: str
    port: int
    popen: subprocess.Popen[bytes]
    log: Path
    launched_at: float
    startup_seconds: float | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def idle_rss_mib(self) -> float:
        return (memory_kib(self.pid, "VmRSS") or 0) / 1024

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{tail}")


@dataclass
class Launcher:
    """Starts processes with one environment; ``stop`` ends them all (SIGTERM, then kill)."""

    env: dict[str, str]
    logs: Path
    # Another source tree to run instead of the installed one (``--compare-tree``).
    source: Path | None = None
    processes: list[Launched] = field(default_factory=list)

    def launch(self, name: str) -> Launched:
        env = {}
        if self.source is not None:
            # ``python -m`` looks in the working directory first: run from there.
            env["PYTHONPATH"] = str(self.source)
        return self.launch_command(name, [sys.executable, "-m", MODULES[name]], self.source, env)

    def launch_command(
        self, name: str, argv: list[str], cwd: Path | None, env: dict[str, str]
    ) -> Launched:
        """Any process that serves /health on ``PORT``, with this launcher's environment."""
        port = free_port()
        log = self.logs / f"{name}-{port}.log"
        with log.open("wb") as output:
            popen = subprocess.Popen(
                argv,
                env={**os.environ, **self.env, **env, "PORT": str(port)},
                cwd=cwd,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        launched = Launched(name, port, popen, log, time.perf_counter())
        self.processes.append(launched)
        return launched

    def wait_healthy(self, *processes: Launched) -> None:
        """Until each answers 200 on /health; records its seconds from launch."""
        deadline = time.monotonic() + STARTUP_PATIENCE_SECONDS
        waiting = list(processes)
        while waiting:
            for process in list(waiting):
                process.check_alive()
                if http_status(process.port, "/health") == 200:
                    process.startup_seconds = time.perf_counter() - process.launched_at
                    waiting.remove(process)
            if time.monotonic() > deadline:
                names = ", ".join(p.name for p in waiting)
                raise RuntimeError(f"not healthy after {STARTUP_PATIENCE_SECONDS:g}s: {names}")
            time.sleep(0.01)

    def start_stack(self) -> dict[str, Launched]:
        """User and auth worker, then the gateway (healthy only once both are live)."""
        user, auth = self.launch("user"), self.launch("auth")
        self.wait_healthy(user, auth)
        gateway = self.launch("gateway")
        self.wait_healthy(gateway)
        return {"gateway": gateway, "user": user, "auth": auth}

    def stop(self) -> None:
        for process in self.processes:
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.popen.wait(15)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(5)
        self.processes.clear()
