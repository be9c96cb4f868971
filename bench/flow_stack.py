"""What ``bench.http_flows`` and ``bench.session_flows`` share: the stack and the table.

Each runs a gateway, a user and an auth worker (PostgreSQL from DATABASE_URL,
default the local server, in a database of its own; Redis from REDIS_URL,
default the local server, under a prefix of its own), signs one account up
and prints one row per flow and concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import uuid
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

from bench.http_client import FLOW_TABLE_HEADER, Call, KeepAliveClient, drive, flow_table_row
from bench.scratch import scratch_database
from common import json_codec
from tests.e2e.stack import Stack, full_stack

PASSWORD = "bench-password-1"  # noqa: S105 - an account the benchmark makes


async def signed_up(port: int, username: str) -> str:
    """Register ``username`` and log it in: its access token."""
    setup = KeepAliveClient(port)
    try:
        account = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
        await setup.request("POST", "/api/users/register", body=account)
        _, answer = await setup.request(
            "POST", "/api/auth/login", body={"username": username, "password": PASSWORD}
        )
    finally:
        setup.close()
    return str(json_codec.loads(answer)["token"])


async def print_flows(
    flows: tuple[tuple[str, Call], ...],
    port: int,
    levels: list[int],
    seconds: float,
    before_each: Callable[[], None] = lambda: None,
) -> None:
    """The table: every flow at every concurrency, ``before_each`` run before each cell."""
    print(FLOW_TABLE_HEADER)
    for name, call in flows:
        for level in levels:
            before_each()
            print(flow_table_row(name, level, await drive(call, port, level, seconds)))


def flow_arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", default="1,32")
    return parser


def levels_of(concurrency: str) -> list[int]:
    return [int(level) for level in concurrency.split(",")]


def run_on_stack(
    name: str,
    run: Callable[[int], Coroutine[Any, Any, None]],
    *,
    bcrypt_rounds: str = "10",
    overrides: Mapping[str, str] | None = None,
) -> None:
    """``run(gateway_port)`` against a stack of its own, stopped and dropped afterwards."""
    with scratch_database() as database_url:
        stack = Stack(
            {
                "DATABASE_URL": database_url,
                "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                "RPC_PREFIX": f"bench-{name}-{uuid.uuid4().hex[:6]}",
                "JWT_SECRET": "bench-" + "x" * 40,
                "BCRYPT_ROUNDS": bcrypt_rounds,
                "LOG_LEVEL": "WARNING",
                **(overrides or {}),
            },
            Path(tempfile.mkdtemp(prefix=f"gatehouse-{name}-")),
        )
        try:
            full_stack(stack)
            asyncio.run(run(stack.gateway.port))
        finally:
            stack.stop()
