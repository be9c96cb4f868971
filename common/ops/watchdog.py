"""Stops what ``gatehouse up`` started when ``gatehouse up`` itself is killed.

A process cannot clean up after a SIGKILL, and the embedded servers and
honcho's processes run in sessions of their own, so they would outlive it.
``gatehouse up`` therefore starts this watchdog first, in its own session,
and tells it over a pipe what it starts. Only ``up`` holds the pipe's write
end: when ``up`` dies, however it dies, the watchdog reads end-of-file and
stops honcho (whose services drain), then PostgreSQL and Valkey. A pipe
closing works the same on Linux and macOS, which has no parent-death signal.
The watchdog also holds a copy of the data folder's lock, so that no new run
starts on the folder until it has finished.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

# honcho gives its processes 5 s to exit after SIGTERM before it kills them.
HONCHO_PATIENCE_SECONDS = 15.0


class Watchdog:
    """The ``gatehouse up`` side: start the watchdog, then tell it what runs."""

    def __init__(self, lock_fd: int) -> None:
        read_end, write_end = os.pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "common.ops.watchdog"],
            stdin=read_end,
            pass_fds=(lock_fd,),
            start_new_session=True,
        )
        os.close(read_end)
        # os.pipe() descriptors are not inherited: no other child keeps it open.
        self._pipe: IO[str] = os.fdopen(write_end, "w")

    def tell(self, **started: Any) -> None:
        self._pipe.write(json.dumps(started) + "\n")
        self._pipe.flush()

    def dismiss(self) -> None:
        """Everything is stopped: the watchdog leaves without doing anything."""
        with contextlib.suppress(BrokenPipeError):
            self.tell(done=True)
        with contextlib.suppress(BrokenPipeError):
            self._pipe.close()
        self._process.wait()


def watch(messages: IO[str]) -> dict[str, Any] | None:
    """What was started, once ``up`` is gone without saying it is done; None if it did."""
    started: dict[str, Any] = {}
    for line in messages:
        message = json.loads(line)
        if message.get("done"):
            return None
        started.update(message)
    return started


def clean_up(started: dict[str, Any]) -> None:
    """Stop the services first (they drain against the servers), then the servers."""
    from common.ops.datafolder import forget_urls
    from common.ops.embedded import stop_postgres_in, stop_valkey_in

    honcho = started.get("honcho")
    if isinstance(honcho, int):
        _stop_process(honcho)
    if "postgres" in started:
        stop_postgres_in(Path(started["postgres"]))
    if "valkey" in started:
        stop_valkey_in(Path(started["valkey"]))
    if "data" in started:
        forget_urls(Path(started["data"]))


def _stop_process(pid: int) -> None:
    for signum in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + HONCHO_PATIENCE_SECONDS
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A dead child of the dead ``up`` may linger as a zombie until init reaps it.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    return True


def main() -> None:
    # The terminal's signals are for ``up``; this process outlives it on purpose.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    started = watch(sys.stdin)
    if started:
        # The terminal may be gone with ``up``: say it if anyone can hear.
        with contextlib.suppress(OSError):
            print("gatehouse: gatehouse up is gone; stopping what it started", file=sys.stderr)
        clean_up(started)


if __name__ == "__main__":
    main()
