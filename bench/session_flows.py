"""Requests per second and latency of refresh, sessions list and audit list.

    python -m bench.session_flows [--seconds 5] [--concurrency 1,32]

Same set-up as bench/http_flows.py (a stack of one process each, scratch
database, own Redis prefix). ``refresh`` rotates one chain per client loop
(each refresh presents the previous answer's token), so every call takes the
row locks and writes a new pair; ``sessions`` and ``audit`` read the caller's
rows. Read the figures as ratios between flows on one machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import uuid
from collections.abc import Awaitable
from pathlib import Path

from bench.http_client import FLOW_TABLE_HEADER, Call, KeepAliveClient, drive, flow_table_row
from bench.http_flows import PASSWORD
from bench.scratch import scratch_database
from common import json_codec
from tests.e2e.stack import Stack, full_stack


async def run(port: int, levels: list[int], seconds: float) -> None:
    run_id = uuid.uuid4().hex[:6]
    setup = KeepAliveClient(port)
    account = {"username": f"s{run_id}", "email": f"s{run_id}@example.com", "password": PASSWORD}
    await setup.request("POST", "/api/users/register", body=account)
    _, answer = await setup.request(
        "POST", "/api/auth/login", body={"username": f"s{run_id}", "password": PASSWORD}
    )
    setup.close()
    token = json_codec.loads(answer)["token"]
    chains: dict[int, str] = {}

    async def refresh(client: KeepAliveClient, n: int) -> tuple[int, bytes]:
        if id(client) not in chains:
            _, first = await client.request(
                "POST", "/api/auth/login", body={"username": f"s{run_id}", "password": PASSWORD}
            )
            chains[id(client)] = json_codec.loads(first)["refresh_token"]
        status, body = await client.request(
            "POST", "/api/auth/refresh", body={"refresh_token": chains[id(client)]}
        )
        if status == 200:
            chains[id(client)] = json_codec.loads(body)["refresh_token"]
        return status, body

    def sessions(client: KeepAliveClient, n: int) -> Awaitable[tuple[int, bytes]]:
        return client.request("GET", "/api/auth/sessions", token=token)

    def audit(client: KeepAliveClient, n: int) -> Awaitable[tuple[int, bytes]]:
        return client.request("GET", "/api/auth/audit?limit=50", token=token)

    flows: tuple[tuple[str, Call], ...] = (
        ("refresh", refresh),
        ("sessions", sessions),
        ("audit", audit),
    )
    print(FLOW_TABLE_HEADER)
    for name, call in flows:
        for level in levels:
            chains.clear()
            print(flow_table_row(name, level, await drive(call, port, level, seconds)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", default="1,32")
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]
    with scratch_database() as database_url:
        stack = Stack(
            {
                "DATABASE_URL": database_url,
                "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                "RPC_PREFIX": f"bench-sessions-{uuid.uuid4().hex[:6]}",
                "JWT_SECRET": "bench-" + "x" * 40,
                "BCRYPT_ROUNDS": "10",
                "LOG_LEVEL": "WARNING",
                # Every request comes from this one address: measure the flows, not the limit.
                "RATE_LIMIT_REFRESH": "off",
            },
            Path(tempfile.mkdtemp(prefix="gatehouse-sessions-")),
        )
        try:
            full_stack(stack)
            asyncio.run(run(stack.gateway.port, levels, args.seconds))
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
