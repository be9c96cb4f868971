"""Logs of a live stack, in both formats: no secret ever appears in them."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import Servers
from tests.e2e.helpers import account_flow
from tests.e2e.stack import Stack, full_stack

JSON_FIELDS = {"time", "level", "service", "instance", "request_id", "message"}


@pytest.mark.parametrize("log_format", ["human", "json"])
async def test_a_full_flow_logs_no_password_token_or_hash(
    stack_factory: Callable[..., Stack],
    servers: Servers,
    unique: Callable[[str], str],
    log_format: str,
) -> None:
    # DEBUG, so that every line the code can write is written.
    stack = full_stack(stack_factory(LOG_FORMAT=log_format, LOG_LEVEL="DEBUG"))
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as client:
        secrets = await account_flow(client, servers.database_url, unique("logged"))
    stack.stop()

    logs = {process.service: process.log.read_text() for process in stack.processes}
    for service, text in logs.items():
        assert text.strip(), f"{service} wrote no log"
        for secret in secrets:
            assert secret not in text, f"{service}'s log holds a secret: {secret[:12]}..."
    assert "logged in" in logs["auth"]
    assert "changed password" in logs["auth"]


async def test_json_logs_are_one_object_per_line_with_the_request_id(
    stack_factory: Callable[..., Stack], servers: Servers, unique: Callable[[str], str]
) -> None:
    stack = full_stack(stack_factory(LOG_FORMAT="json"))
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as client:
        await account_flow(client, servers.database_url, unique("shipped"))
    stack.stop()

    lines = {
        process.service: [json.loads(line) for line in process.log.read_text().splitlines()]
        for process in stack.processes
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
