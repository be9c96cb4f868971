"""A worker calling another service passes on its request id and deadline."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from common.context import origin_var, request_id_var
from common.keys import Keys
from common.redis_client import blocking_client, command_client
from common.rpc.client import REPLY_BLOCK_SECONDS, RpcClient
from common.rpc.message import Request
from common.rpc.registry import Registry
from common.rpc.server import TAKE_BLOCK_SECONDS, Method, RpcServer
from tests.conftest import Servers


@pytest.fixture
async def rig(servers: Servers, keys: Keys, redis: object) -> AsyncIterator[dict[str, Any]]:
    """An ``outer`` service whose handler calls an ``inner`` one, and a caller."""
    url = servers.redis_url
    commands = command_client(url)
    registry = Registry(commands, keys, ttl=30)
    opened = [commands]

    def client(instance: str, timeout: float) -> RpcClient:
        blocking = blocking_client(url, block_seconds=REPLY_BLOCK_SECONDS)
        opened.append(blocking)
        return RpcClient(
            commands,
            blocking,
            keys,
            registry,
            instance,
            default_timeout=timeout,
            max_inflight=100,
            max_queue_length=100,
        )

    # The outer worker's own client has a generous timeout: the inherited
    # deadline must win over it.
    outer_client = client("outer-caller", timeout=60)
    caller = client("gateway", timeout=2)
    seen: dict[str, Any] = {}

    async def inner(params: dict[str, Any], request: Request) -> dict[str, Any]:
        seen["inner"] = request
        return {"ok": True}

    async def outer(params: dict[str, Any], request: Request) -> dict[str, Any]:
        seen["outer"] = request
        return await outer_client.call("inner.echo", {})

    servers_running = []
    for service, methods in (
        ("outer", {"outer.call": Method(outer)}),
        ("inner", {"inner.echo": Method(inner)}),
    ):
        blocking = blocking_client(url, block_seconds=TAKE_BLOCK_SECONDS)
        opened.append(blocking)
        server = RpcServer(
            commands, blocking, keys, service, f"{service}-1", methods, concurrency=8
        )
        await registry.heartbeat(service, f"{service}-1", {})
        servers_running.append((server, asyncio.create_task(server.run())))
    await outer_client.start()
    await caller.start()
    yield {"caller": caller, "seen": seen}
    for server, _ in servers_running:
        server.stop()
    await asyncio.gather(*(task for _, task in servers_running))
    await outer_client.close()
    await caller.close()
    for connection in opened:
        await connection.aclose()


async def test_nested_call_inherits_request_id_and_deadline(rig: dict[str, Any]) -> None:
    token = request_id_var.set("rid-nested-1")
    try:
        assert await rig["caller"].call("outer.call", {}) == {"ok": True}
    finally:
        request_id_var.reset(token)
    outer, inner = rig["seen"]["outer"], rig["seen"]["inner"]
    assert inner.request_id == outer.request_id == "rid-nested-1"
    assert inner.deadline == outer.deadline
    assert inner.id != outer.id


async def test_nested_call_carries_the_public_clients_origin(rig: dict[str, Any]) -> None:
    token = origin_var.set({"client_ip": "203.0.113.7", "user_agent": "curl/8"})
    try:
        await rig["caller"].call("outer.call", {})
    finally:
        origin_var.reset(token)
    for hop in ("outer", "inner"):
        request = rig["seen"][hop]
        assert (request.client_ip, request.user_agent) == ("203.0.113.7", "curl/8")


async def test_a_call_without_origin_sends_none(rig: dict[str, Any]) -> None:
    await rig["caller"].call("outer.call", {})
    assert rig["seen"]["inner"].client_ip is None
    assert rig["seen"]["inner"].user_agent is None
