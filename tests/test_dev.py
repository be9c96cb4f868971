"""``dev.py``: the two commands of the README, and its help."""

from __future__ import annotations

import subprocess
import sys

from common.ops.up import PROJECT_ROOT


def dev(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "dev.py"), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_help_exits_0_and_describes_both_commands():
    for flag in ("--help", "-h"):
        shown = dev(flag)
        assert shown.returncode == 0, shown.stderr
        assert "python3 dev.py up [-p PORT] [-c TYPE=N,...]" in shown.stdout
        assert "python3 dev.py test" in shown.stdout


def test_an_unknown_command_is_a_usage_error():
    for args in ((), ("upp",)):
        refused = dev(*args)
        assert refused.returncode == 2
        assert "usage: python3 dev.py up" in refused.stderr
