"""Requests per second and latency of refresh, sessions list and audit list.

    python -m bench.session_flows [--seconds 5] [--concurrency 1,32]

Same set-up as bench/http_flows.py (``bench.flow_stack``: a stack of one
process each, scratch database, own Redis prefix). ``refresh`` rotates one
chain per client loop (each refresh presents the previous answer's token), so
every call takes the row locks and writes a new pair; ``sessions`` and
``audit`` read the caller's rows. Read the figures as ratios between flows on
one machine.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable

from bench.flow_stack import (
    PASSWORD,
    flow_arguments,
    levels_of,
    print_flows,
    run_on_stack,
    signed_up,
)
from bench.http_client import Call, KeepAliveClient
from common import json_codec


async def run(port: int, levels: list[int], seconds: float) -> None:
    username = f"s{uuid.uuid4().hex[:6]}"
    token = await signed_up(port, username)
    chains: dict[int, str] = {}

    async def refresh(client: KeepAliveClient, n: int) -> tuple[int, bytes]:
        if id(client) not in chains:
            _, first = await client.request(
                "POST", "/api/auth/login", body={"username": username, "password": PASSWORD}
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
    await print_flows(flows, port, levels, seconds, before_each=chains.clear)


def main() -> None:
    args = flow_arguments(__doc__ or "").parse_args()
    levels = levels_of(args.concurrency)
    run_on_stack(
        "sessions",
        lambda port: run(port, levels, args.seconds),
        # Every request comes from this one address: measure the flows, not the limit.
        overrides={"RATE_LIMIT_REFRESH": "off"},
    )


if __name__ == "__main__":
    main()
