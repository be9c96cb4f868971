"""Process lifecycle: draining on SIGTERM, the worker health port, start-up refusals."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest

from common.config import DEVELOPMENT_JWT_SECRET
from tests.conftest import Servers
from tests.e2e.helpers import count_users_named_like, register
from tests.e2e.stack import APP_MODULES, Stack, free_port

DRAIN_REQUESTS = 100
# Requests the victim must have in flight when it is signalled.
BUSY = 3


async def test_sigterm_drains_in_flight_work(
    stack_factory: Callable[..., Stack], servers: Servers, unique: Callable[[str], str]
):
    # Slower hashing than the suite's default, so requests are still in flight
    # on the victim when the signal lands.
    draining = stack_factory(BCRYPT_ROUNDS="8")
    victim = draining.start("user", wait=False)
    survivor = draining.start("user", wait=False)
    auth = draining.start("auth", wait=False)
    for process in (victim, survivor, auth):
        draining.wait_ready(process)
    draining.start("gateway")
    draining.wait_for_instances("user", 2)

    stem = unique("drain")
    names = [f"{stem}_{i}" for i in range(DRAIN_REQUESTS)]
    limits = httpx.Limits(max_connections=DRAIN_REQUESTS + 10)
    async with httpx.AsyncClient(base_url=draining.url, timeout=30, limits=limits) as http:
        tasks = [asyncio.create_task(register(http, name)) for name in names]
        # Signal the victim once it is working on several of them.
        async with asyncio.timeout(15):
            while (await http.get(f"{victim.url}/health")).json()["inflight"] < BUSY:
                assert not all(task.done() for task in tasks), "victim was never busy"
                await asyncio.sleep(0.005)
        victim.signal(signal.SIGTERM)
        answers = await asyncio.gather(*tasks)

        statuses = [answer.status_code for answer in answers]
        assert statuses == [201] * DRAIN_REQUESTS, [a.text for a in answers if a.status_code != 201]
        assert await asyncio.to_thread(victim.wait, 15) == 0
        assert survivor.running()

        listed = (await http.get("/services")).json()["services"]["user"]
        assert [instance["pid"] for instance in listed] == [survivor.pid]

    # The victim finished work after it was told to stop.
    log = victim.log.read_text(errors="replace")
    stopping = re.search(r"user worker \S+ stopping", log)
    assert stopping, log[-3000:]
    after_stop = log[stopping.end() :]
    assert "registered user" in after_stop, log[-3000:]
    stored = await count_users_named_like(servers.database_url, stem)
    assert stored == DRAIN_REQUESTS


# ----------------------------------------------------------------------------
# The one port a worker opens


def worker(stack: Stack, service: str):
    return next(p for p in stack.processes if p.service == service and p.running())


@pytest.mark.parametrize("service", ["user", "auth"])
async def test_worker_health_port(stack: Stack, service: str):
    process = worker(stack, service)
    async with httpx.AsyncClient(base_url=process.url, timeout=5) as http:
        answer = await http.get("/health")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/json")
        body = answer.json()
        assert body["status"] == "healthy"
        assert body["service"] == f"{service}-service"
        assert body["dependencies"]["redis"]["status"] == "up"
        assert body["dependencies"]["postgres"]["status"] == "up"

        for path in ("/", "/nope", "/healthz", "/health/deep", "/api/users/register", "/services"):
            other = await http.get(path)
            assert other.status_code == 404, path
            assert other.json()["success"] is False
            assert "Traceback" not in other.text
        assert (await http.post("/health")).status_code == 405


def listening_tcp_ports(pid: int) -> set[int]:
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        return {
            conn.laddr.port
            for conn in psutil.Process(pid).net_connections(kind="tcp")
            if conn.status == psutil.CONN_LISTEN
        }
    ss = shutil.which("ss")
    if ss is None:
        pytest.skip("neither psutil nor ss is available to list a process's listening sockets")
    output = subprocess.run(
        [ss, "-ltnpH"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    ports = set()
    for line in output.splitlines():
        if f"pid={pid}," in line:
            local = line.split()[3]
            ports.add(int(local.rsplit(":", 1)[1]))
    if not ports:
        pytest.skip("ss shows no process information here (needs privileges to see pids)")
    return ports


@pytest.mark.parametrize("service", ["user", "auth"])
def test_worker_listens_only_on_its_health_port(stack: Stack, service: str):
    process = worker(stack, service)
    assert listening_tcp_ports(process.pid) == {process.port}


# ----------------------------------------------------------------------------
# Production refuses a weak or missing JWT secret at start-up


def start_and_wait(module: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


STRONG_SECRET = "Zq7-Lm2_Vx9pRt4kWc8nYb3hJd6fGs5a"


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("short", id="short"),
        pytest.param("", id="missing"),
        pytest.param("changeme", id="placeholder"),
        pytest.param("x" * 31, id="31-chars"),
        pytest.param(DEVELOPMENT_JWT_SECRET, id="development-default"),
        pytest.param("a" * 32, id="one-character-repeated"),
        pytest.param("abcd" * 12, id="short-string-repeated"),
    ],
)
def test_production_gateway_refuses_weak_secret(stack_factory: Callable[..., Stack], secret: str):
    env = {
        **os.environ,
        **stack_factory().env,
        "APP_ENV": "production",
        "JWT_SECRET": secret,
        "PORT": str(free_port()),
    }
    done = start_and_wait(APP_MODULES["gateway"], env)
    assert done.returncode != 0
    assert "JWT_SECRET" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("service", ["user", "auth"])
def test_production_worker_refuses_weak_secret(stack_factory: Callable[..., Stack], service: str):
    env = {
        **os.environ,
        **stack_factory().env,
        "APP_ENV": "production",
        "JWT_SECRET": "short",
        "PORT": str(free_port()),
    }
    done = start_and_wait(APP_MODULES[service], env)
    assert done.returncode != 0
    assert "JWT_SECRET" in done.stderr, done.stderr


def test_production_gateway_starts_with_a_strong_secret(stack_factory: Callable[..., Stack]):
    """The control for the refusals above: only the secret differs."""
    production = stack_factory(APP_ENV="production", JWT_SECRET=STRONG_SECRET)
    gateway = production.start("gateway")
    assert gateway.running()
    answer = httpx.get(f"{gateway.url}/health", timeout=5)
    assert answer.json()["service"] == "api-gateway"
