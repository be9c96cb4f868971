"""The README's ``.venv/bin/honcho start -c user=4``, run as written: no venv on PATH."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from common.ops.up import PROJECT_ROOT
from tests.conftest import Servers, base_env
from tests.e2e.stack import STARTUP_SECONDS, free_base_port

HONCHO = PROJECT_ROOT / ".venv" / "bin" / "honcho"
USERS = 2


@pytest.mark.skipif(
    Path(sys.executable).parent != HONCHO.parent,
    reason="runs only from the project's .venv, which the README's command names",
)
def test_honcho_runs_the_procfile_with_the_project_python(
    servers: Servers, prefix: str, tmp_path: Path
):
    port = free_base_port(per_type=USERS)
    # What a shell that never activated the venv has: the system's python3.
    env = {
        **base_env(servers, prefix),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/"),
    }
    log = tmp_path / "honcho.log"
    with log.open("wb") as output:
        honcho = subprocess.Popen(
            [str(HONCHO), "start", "-c", f"user={USERS}", "-p", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        users: list[object] = []
        while len(users) < USERS:
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-4000:]
            assert honcho.poll() is None, log.read_text(errors="replace")[-4000:]
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/services", timeout=2)
                users = answer.json()["services"].get("user", [])
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        # Each user worker has its health port: honcho numbers them from base + 100.
        for index in range(USERS):
            health = httpx.get(f"http://127.0.0.1:{port + 100 + index}/health", timeout=5)
            assert health.json()["service"] == "user-service"
    finally:
        honcho.send_signal(signal.SIGTERM)
        honcho.wait(30)
    assert "No module named" not in log.read_text(errors="replace")
