"""CPU each process burns while Redis is down: proof of backoff, not busy loops.

    python -m bench.outage_cpu [--seconds 10]

Starts its own Valkey and a gateway + user + auth stack on it (PostgreSQL
from DATABASE_URL, default the local server, in a database of its own),
kills Valkey, then samples each process's CPU time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.procstat import cpu_seconds
from bench.scratch import scratch_database
from common.ops.embedded import EmbeddedRedis
from tests.e2e.stack import Stack, free_port, full_stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gatehouse-outage-"))
    redis = EmbeddedRedis(root / "redis", port=free_port(), persist=False)
    with scratch_database() as database_url:
        measure(database_url, redis, root, args.seconds)


def measure(database_url: str, redis: EmbeddedRedis, root: Path, seconds: float) -> None:
    stack = Stack(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis.start(),
            "RPC_PREFIX": "bench-outage",
            "JWT_SECRET": "bench-" + "x" * 40,
            "BCRYPT_ROUNDS": "4",
        },
        root,
    )
    try:
        full_stack(stack)
        redis.kill()
        time.sleep(1)
        before = [cpu_seconds(p.pid) or 0.0 for p in stack.processes]
        time.sleep(seconds)
        after = [cpu_seconds(p.pid) or 0.0 for p in stack.processes]
        print(f"CPU while Redis is down, over {seconds:g}s:")
        for process, start, end in zip(stack.processes, before, after, strict=True):
            print(f"{process.service:>8} {(end - start) / seconds * 100:6.2f}%")
    finally:
        stack.stop()
        redis.stop()


if __name__ == "__main__":
    main()
