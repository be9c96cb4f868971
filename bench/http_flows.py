"""Requests per second and latency through the gateway, for each seed flow.

    python -m bench.http_flows [--seconds 5] [--concurrency 1,32] [--bcrypt-rounds 10]

Starts a gateway, a user and an auth worker (PostgreSQL from DATABASE_URL,
default the local server, in a database of its own; Redis from REDIS_URL,
default the local server, under a prefix of its own), then drives
register, login and profile from this process over keep-alive connections
for a fixed time at each concurrency. Prints requests/s and median / p95 latency. The client
shares the machine's cores with the stack, so read the figures as ratios
between runs on one machine, not as capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import uuid
from collections.abc import Awaitable
from pathlib import Path

from bench.http_client import FLOW_TABLE_HEADER, KeepAliveClient, drive, flow_table_row
from bench.scratch import scratch_database
from common import json_codec
from tests.e2e.stack import Stack, full_stack

PASSWORD = "bench-password-1"  # noqa: S105 - an account the benchmark makes


async def run(port: int, levels: list[int], seconds: float) -> None:
    run_id = uuid.uuid4().hex[:6]
    setup = KeepAliveClient(port)
    account = {"username": f"b{run_id}", "email": f"b{run_id}@example.com", "password": PASSWORD}
    await setup.request("POST", "/api/users/register", body=account)
    _, answer = await setup.request(
        "POST", "/api/auth/login", body={"username": f"b{run_id}", "password": PASSWORD}
    )
    setup.close()
    token = json_codec.loads(answer)["token"]

    def register(client: KeepAliveClient, n: int) -> Awaitable[tuple[int, bytes]]:
        name = f"r{run_id}_{n}_{uuid.uuid4().hex[:6]}"
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        return client.request("POST", "/api/users/register", body=body)

    def log_in(client: KeepAliveClient, n: int) -> Awaitable[tuple[int, bytes]]:
        body = {"username": f"b{run_id}", "password": PASSWORD}
        return client.request("POST", "/api/auth/login", body=body)

    def profile(client: KeepAliveClient, n: int) -> Awaitable[tuple[int, bytes]]:
        return client.request("GET", "/api/users/profile", token=token)

    print(FLOW_TABLE_HEADER)
    for name, call in (("register", register), ("login", log_in), ("profile", profile)):
        for level in levels:
            print(flow_table_row(name, level, await drive(call, port, level, seconds)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", default="1,32")
    parser.add_argument("--bcrypt-rounds", default="10")
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]
    with scratch_database() as database_url:
        stack = Stack(
            {
                "DATABASE_URL": database_url,
                "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                "RPC_PREFIX": f"bench-http-{uuid.uuid4().hex[:6]}",
                "JWT_SECRET": "bench-" + "x" * 40,
                "BCRYPT_ROUNDS": args.bcrypt_rounds,
                "LOG_LEVEL": "WARNING",
                # Every request comes from this one address: measure the flows, not the limit.
                "RATE_LIMIT_REGISTER": "off",
            },
            Path(tempfile.mkdtemp(prefix="gatehouse-http-")),
        )
        try:
            full_stack(stack)
            print(
                f"BCRYPT_ROUNDS={args.bcrypt_rounds}, one process each, {args.seconds:g}s per cell"
            )
            asyncio.run(run(stack.gateway.port, levels, args.seconds))
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
