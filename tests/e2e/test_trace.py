"""``gatehouse trace`` against a live stack."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable

import httpx

from common import json_codec
from tests.e2e.stack import Stack


async def test_trace_shows_a_call_with_its_reply_and_latency(
    stack: Stack, client: httpx.AsyncClient, unique: Callable[[str], str]
) -> None:
    request_id = unique("trace")
    tracer = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "common.ops.cli", "trace", "--json", "--request-id", request_id),
        env={**os.environ, **stack.env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert tracer.stdout is not None
    assert tracer.stderr is not None
    try:
        # The banner comes just before MONITOR starts.
        assert b"tracing" in await asyncio.wait_for(tracer.stderr.readline(), 10)
        await asyncio.sleep(0.3)
        name = unique("traced")
        response = await client.post(
            "/api/users/register",
            json={"username": name, "email": f"{name}@example.com", "password": "secret123"},
            headers={"X-Request-ID": request_id},
        )
        assert response.status_code == 201
        line = await asyncio.wait_for(tracer.stdout.readline(), 10)
    finally:
        tracer.send_signal(signal.SIGINT)
        await asyncio.wait_for(tracer.wait(), 10)
    traced = json_codec.loads(line)
    assert traced["method"] == "user.register"
    assert traced["request_id"] == request_id
    assert traced["status"] == "ok"
    assert traced["latency_ms"] > 0
    assert traced["instance"].startswith("user-")
