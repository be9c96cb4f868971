"""CPU each process burns while Redis is down: proof of backoff, not busy loops.

    python -m bench.outage_cpu [--seconds 10]

Starts its own Valkey and a gateway + user + auth stack on it (PostgreSQL
from DATABASE_URL, default the local server; a database of its own is made
and dropped), kills Valkey, then samples each process's CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import psutil

from common.embedded import EmbeddedRedis
from tests.e2e.stack import Stack, free_port, full_stack


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    admin_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    database = f"gatehouse_bench_{uuid.uuid4().hex[:8]}"
    root = Path(tempfile.mkdtemp(prefix="gatehouse-outage-"))
    redis = EmbeddedRedis(root / "redis", port=free_port(), persist=False)
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{database}"'))
    stack = Stack(
        {
            "DATABASE_URL": admin_url.rsplit("/", 1)[0] + f"/{database}",
            "REDIS_URL": redis.start(),
            "RPC_PREFIX": "bench-outage",
            "JWT_SECRET": "bench-" + "x" * 40,
            "BCRYPT_ROUNDS": "4",
        },
        root,
    )
    try:
        full_stack(stack)
        processes = [psutil.Process(p.pid) for p in stack.processes]
        redis.kill()
        time.sleep(1)
        before = [sum(p.cpu_times()[:2]) for p in processes]
        time.sleep(args.seconds)
        after = [sum(p.cpu_times()[:2]) for p in processes]
        print(f"CPU while Redis is down, over {args.seconds:g}s:")
        for process, start, end in zip(stack.processes, before, after, strict=True):
            print(f"{process.service:>8} {(end - start) / args.seconds * 100:6.2f}%")
    finally:
        stack.stop()
        redis.stop()
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
