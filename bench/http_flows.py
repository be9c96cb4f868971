"""Requests per second and latency through the gateway, for each seed flow.

    python -m bench.http_flows [--seconds 5] [--concurrency 1,32] [--bcrypt-rounds 10]

Starts a gateway, a user and an auth worker (see ``bench.flow_stack``), then
drives register, login and profile from this process over keep-alive connections
for a fixed time at each concurrency. Prints requests/s and median / p95 latency. The client
shares the machine's cores with the stack, so read the figures as ratios
between runs on one machine, not as capacity.
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
from bench.http_client import KeepAliveClient


async def run(port: int, levels: list[int], seconds: float) -> None:
    run_id = uuid.uuid4().hex[:6]
    token = await signed_up(port, f"b{run_id}")

    def register(client: KeepAliveClient, n: int) -> Awaitable[tuple[int, bytes]]:
        name = f"r{run_id}_{n}_{uuid.uuid4().hex[:6]}"
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        return client.request("POST", "/api/users/register", body=body)

    def log_in(client: KeepAliveClient, n: int) -> Awaitable[tuple[int, bytes]]:
        body = {"username": f"b{run_id}", "password": PASSWORD}
        return client.request("POST", "/api/auth/login", body=body)

    def profile(client: KeepAliveClient, n: int) -> Awaitable[tuple[int, bytes]]:
        return client.request("GET", "/api/users/profile", token=token)

    flows = (("register", register), ("login", log_in), ("profile", profile))
    await print_flows(flows, port, levels, seconds)


def main() -> None:
    parser = flow_arguments(__doc__ or "")
    parser.add_argument("--bcrypt-rounds", default="10")
    args = parser.parse_args()
    levels = levels_of(args.concurrency)
    print(f"BCRYPT_ROUNDS={args.bcrypt_rounds}, one process each, {args.seconds:g}s per cell")
    run_on_stack(
        "http",
        lambda port: run(port, levels, args.seconds),
        bcrypt_rounds=args.bcrypt_rounds,
        # Every request comes from this one address: measure the flows, not the limit.
        overrides={"RATE_LIMIT_REGISTER": "off"},
    )


if __name__ == "__main__":
    main()
