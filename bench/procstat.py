"""CPU time and memory of processes, read from /proc (Linux).

CPU is ``utime + stime`` from ``/proc/<pid>/stat``; peak RSS is ``VmHWM`` and
current RSS ``VmRSS`` from ``/proc/<pid>/status``. A process that is gone, or
not visible here (a server on another host or in another pid namespace),
reads as nothing rather than failing the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds the process has used, None if it is not visible."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: count fields after its ')'.
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def memory_kib(pid: int, field_name: str = "VmHWM") -> int | None:
    """A ``/proc/<pid>/status`` size in KiB: ``VmHWM`` (peak RSS) or ``VmRSS``."""
    try:
        status = (PROC / str(pid) / "status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1])
    return None


def command_name(pid: int) -> str:
    try:
        return (PROC / str(pid) / "comm").read_text().strip()
    except OSError:
        return ""


def process_title(pid: int) -> str:
    """The command line, or the title a server such as PostgreSQL gives itself."""
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def usable_cores() -> int:
    """Cores this process may run on (all of them where affinity is unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def pids_named(names: Iterable[str]) -> list[int]:
    """Local processes whose command name is one of ``names`` (none without /proc)."""
    wanted = set(names)
    if not PROC.is_dir():
        return []
    return [
        int(entry.name)
        for entry in PROC.iterdir()
        if entry.name.isdigit() and command_name(int(entry.name)) in wanted
    ]


def local_pids(pids: Iterable[int], names: Iterable[str]) -> list[int]:
    """The pids that are processes of this machine with one of the expected names."""
    expected = tuple(names)
    return [pid for pid in pids if command_name(pid).startswith(expected)]


@dataclass
class Usage:
    """CPU seconds and peak RSS of named groups of processes over one measurement."""

    cpu_seconds: dict[str, float] = field(default_factory=dict)
    peak_rss_mib: dict[str, float] = field(default_factory=dict)

    def per_request_us(self, requests: int) -> dict[str, float]:
        if requests <= 0:
            return {name: 0.0 for name in self.cpu_seconds}
        return {name: cpu * 1e6 / requests for name, cpu in self.cpu_seconds.items()}


class CpuMeter:
    """``start()`` then ``stop()``: CPU used in between by each group of pids.

    A group is one role (``gateway``, ``postgres``...); its pids are summed, so
    PostgreSQL's backends count as one server. A pid that exits in between
    loses what it used since ``start`` (its last reading is kept).
    """

    def __init__(self, groups: Mapping[str, Iterable[int]]) -> None:
        self._groups = {name: list(pids) for name, pids in groups.items() if pids}
        self._before: dict[int, float] = {}

    def start(self) -> None:
        self._before = self._read()

    def add_late(self, name: str, pids: Iterable[int]) -> None:
        """Pids of ``name`` that appeared after ``start`` (new PostgreSQL backends):
        all their CPU counts, which includes their connection set-up."""
        known = self._groups.setdefault(name, [])
        for pid in pids:
            if pid not in known:
                known.append(pid)
                self._before[pid] = 0.0

    def stop(self, extra: Mapping[str, tuple[float, float]] | None = None) -> Usage:
        """Usage since ``start``; ``extra`` adds groups measured otherwise (cpu s, RSS MiB)."""
        after = self._read()
        usage = Usage()
        for name, pids in self._groups.items():
            usage.cpu_seconds[name] = sum(
                after.get(pid, self._before.get(pid, 0.0)) - self._before.get(pid, 0.0)
                for pid in pids
            )
            peaks = [memory_kib(pid) or 0 for pid in pids]
            usage.peak_rss_mib[name] = max(peaks, default=0) / 1024
        for name, (cpu, rss) in (extra or {}).items():
            usage.cpu_seconds[name] = cpu
            usage.peak_rss_mib[name] = rss
        return usage

    def _read(self) -> dict[int, float]:
        readings = {}
        for pids in self._groups.values():
            for pid in pids:
                seconds = cpu_seconds(pid)
                if seconds is not None:
                    readings[pid] = seconds
        return readings
