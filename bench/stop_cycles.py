"""How long idle workers take to stop on SIGTERM, over many start/stop cycles.

    python -m bench.stop_cycles [--service auth] [--cycles 48] [--parallel 4]

Starts real worker processes (PostgreSQL from DATABASE_URL, default the
local server, in a database of its own; Redis from REDIS_URL, default the
local one), waits until each is healthy, sends SIGTERM at a random moment and
times the exit. A worker still running 12 s later counts as hung (and is
killed). Prints the exit times and the number hung.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from bench.scratch import scratch_database
from tests.e2e.stack import Process, Stack

HUNG_AFTER_SECONDS = 12.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service", choices=["user", "auth"], default="auth")
    parser.add_argument("--cycles", type=int, default=48)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    with scratch_database() as database_url, tempfile.TemporaryDirectory() as logs:
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "RPC_PREFIX": f"bench-stop-{uuid.uuid4().hex[:6]}",
            "JWT_SECRET": "bench-" + "x" * 40,
            "BCRYPT_ROUNDS": "4",
        }
        stack = Stack(env, Path(logs))
        times: list[float] = []
        hung = 0
        for _ in range(args.cycles // args.parallel):
            workers = [stack.start(args.service, wait=False) for _ in range(args.parallel)]
            for worker in workers:
                stack.wait_ready(worker)
            time.sleep(random.uniform(0, 1.5))
            hung += _stop_all(workers, times)
        stack.forget_keys()
    print(f"{args.service} workers, {len(times) + hung} stops, {args.parallel} at a time")
    if times:
        print(f"exit after SIGTERM: median {statistics.median(times):.2f}s, max {max(times):.2f}s")
    print(f"hung (> {HUNG_AFTER_SECONDS:.0f}s): {hung}")


def _stop_all(workers: list[Process], times: list[float]) -> int:
    began = time.monotonic()
    for worker in workers:
        worker.signal(signal.SIGTERM)
    hung = 0
    for worker in workers:
        try:
            worker.wait(max(0.1, HUNG_AFTER_SECONDS - (time.monotonic() - began)))
            times.append(time.monotonic() - began)
        except subprocess.TimeoutExpired:
            hung += 1
            worker.popen.kill()
            worker.wait(5)
    return hung


if __name__ == "__main__":
    main()
