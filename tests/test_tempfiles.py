"""A test run leaves nothing under the system temp folder.

Runs a few of the suite's own tests in a child pytest whose temp folder
(TMPDIR) is a fresh one, with no servers configured so that the embedded
PostgreSQL and Valkey start there too, then looks at what is left.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from common.ops.up import PROJECT_ROOT
from tests.conftest import scratch_folder

# Tests that use tmp_path, the session's servers and the database.
SAMPLE = [
    "tests/common/ops/test_datafolder.py",
    "tests/common/test_worker.py::test_a_busy_worker_answers_what_it_took_then_stops",
]


@pytest.mark.timeout(180)
def test_a_run_with_embedded_servers_leaves_nothing_in_the_temp_folder():
    with scratch_folder("gatehouse-tmpdir-") as tmpdir:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("TEST_", "DATABASE_URL", "REDIS_URL", "XDG_RUNTIME_DIR"))
        }
        env["TMPDIR"] = str(tmpdir)
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SAMPLE],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=170,
            check=False,
        )
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        left = sorted(str(path.relative_to(tmpdir)) for path in tmpdir.rglob("*"))
    # pytest's own per-user folder stays (other runs of the user may be using it), empty.
    assert [path for path in left if not path.startswith("pytest-of-")] == []
    assert all("/" not in path for path in left), left
