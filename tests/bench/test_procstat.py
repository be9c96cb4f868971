"""/proc readings of CPU time and memory."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.procstat import CpuMeter, command_name, cpu_seconds, local_pids, memory_kib


def test_cpu_of_a_busy_child_is_counted_and_a_gone_pid_reads_as_nothing() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sum(range(50_000_000)); sys.stdin.read()"],
        stdin=subprocess.PIPE,
    )
    try:
        meter = CpuMeter({"child": [child.pid], "empty": []})
        meter.start()
        deadline = time.monotonic() + 30
        while (cpu_seconds(child.pid) or 0) < 0.1 and time.monotonic() < deadline:
            time.sleep(0.01)
        usage = meter.stop()
        assert usage.cpu_seconds["child"] >= 0.05
        assert "empty" not in usage.cpu_seconds
        assert usage.peak_rss_mib["child"] > 1
        assert usage.per_request_us(1000)["child"] == usage.cpu_seconds["child"] * 1000
    finally:
        child.communicate(b"")
    assert cpu_seconds(child.pid) is None
    assert memory_kib(child.pid) is None


def test_local_pids_keep_only_processes_of_the_expected_name() -> None:
    me = os.getpid()
    assert local_pids([me], (command_name(me),)) == [me]
    assert local_pids([me], ("postgres",)) == []
