"""Logs of a live stack, in both formats: no secret ever appears in them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import RUN_ID, Servers, base_env
from tests.e2e.helpers import account_flow
from tests.e2e.stack import Stack, full_stack

JSON_FIELDS = {"time", "level", "service", "instance", "request_id", "message"}


@dataclass
class FlowLogs:
    logs: dict[str, str]
    secrets: list[str]


@pytest.fixture(scope="module")
async def flow_logs(
    servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Awaitable[FlowLogs]]:
    """The logs of one account flow through a stack per format, run once per module."""
    done: dict[str, FlowLogs] = {}

    async def run(log_format: str) -> FlowLogs:
        if log_format not in done:
            prefix = f"ghe2e-{RUN_ID}-{uuid.uuid4().hex[:8]}"
            # DEBUG, so that every line the code can write is written.
            env = base_env(servers, prefix) | {"LOG_FORMAT": log_format, "LOG_LEVEL": "DEBUG"}
            stack = Stack(env, tmp_path_factory.mktemp(f"logs-{log_format}"))
            try:
                full_stack(stack)
                async with httpx.AsyncClient(base_url=stack.url, timeout=15) as client:
                    secrets = await account_flow(
                        client, servers.database_url, f"logged_{uuid.uuid4().hex[:8]}"
                    )
            finally:
                stack.stop()
            logs = {process.service: process.log.read_text() for process in stack.processes}
            done[log_format] = FlowLogs(logs, secrets)
        return done[log_format]

    return run


@pytest.mark.parametrize("log_format", ["human", "json"])
async def test_a_full_flow_logs_no_password_token_or_hash(
    flow_logs: Callable[[str], Awaitable[FlowLogs]], log_format: str
) -> None:
    flow = await flow_logs(log_format)

    for service, text in flow.logs.items():
        assert text.strip(), f"{service} wrote no log"
        for secret in flow.secrets:
            assert secret not in text, f"{service}'s log holds a secret: {secret[:12]}..."
    assert "logged in" in flow.logs["auth"]
    assert "changed password" in flow.logs["auth"]


async def test_json_logs_are_one_object_per_line_with_the_request_id(
    flow_logs: Callable[[str], Awaitable[FlowLogs]],
) -> None:
    flow = await flow_logs("json")

    lines = {
        service: [json.loads(line) for line in text.splitlines()]
        for service, text in flow.logs.items()
    }
    for service, records in lines.items():
        assert records, service
        for record in records:
            assert set(record) >= JSON_FIELDS, record
            assert record["service"] == service
            assert record["instance"].startswith(f"{service}-") or record["instance"] == "-"
    # A login's line in the auth worker carries the id the gateway gave the request.
    [logged_in] = [r for r in lines["auth"] if "logged in" in r["message"]]
    gateway_ids = {r["request_id"] for r in lines["gateway"] if "/api/auth/login" in r["message"]}
    assert logged_in["request_id"] in gateway_ids
