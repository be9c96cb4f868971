"""GET /metrics on every process of a live stack, after a known set of calls."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.conftest import Servers
from tests.e2e.helpers import account_flow, login
from tests.e2e.stack import Stack, full_stack
from tests.prometheus import Samples, parse, value

WORKER_FAMILIES = {
    "gatehouse_rpc_handled",
    "gatehouse_rpc_handler_duration_seconds",
    "gatehouse_rpc_handling_in_flight",
    "gatehouse_rpc_redelivered",
    "gatehouse_rpc_dropped_expired",
    "gatehouse_rpc_queue_depth",
    "gatehouse_db_pool_connections",
    "gatehouse_db_pool_max_connections",
    "gatehouse_password_hash_seconds",
}


async def scrape(url: str) -> tuple[set[str], Samples]:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"{url}/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def test_every_process_exposes_its_metrics(
    stack_factory: Callable[..., Stack], servers: Servers, unique: Callable[[str], str]
) -> None:
    # One failure is allowed: the flow's failed login makes the next one throttled.
    stack = full_stack(stack_factory(LOGIN_MAX_FAILURES="1", LOGIN_FAILURE_WINDOW="60s"))
    name = unique("measured")
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as client:
        await account_flow(client, servers.database_url, name)
        assert (await login(client, name, "anything-at-all")).status_code == 429
        assert (await client.get(f"/no/such/{name}")).status_code == 404
    [user] = [p for p in stack.processes if p.service == "user"]
    [auth] = [p for p in stack.processes if p.service == "auth"]

    names, gateway = await scrape(stack.url)
    requests = "gatehouse_http_requests_total"
    assert value(gateway, requests, route="/api/users/register", status="201") == 1
    assert value(gateway, requests, route="/api/auth/login", status="200") == 1
    assert value(gateway, requests, route="/api/auth/login", status="401") == 1
    assert value(gateway, requests, route="/api/auth/login", status="429") == 1
    assert value(gateway, requests, route="/api/auth/change-password", status="200") == 1
    # The raw path is not a label: unknown paths share one.
    assert value(gateway, requests, route="unmatched", status="404") == 1
    assert not any(name in dict(labels).get("route", "") for _, labels in gateway)
    latency = "gatehouse_http_request_duration_seconds_count"
    assert value(gateway, latency, route="/api/auth/login") == 3
    calls = "gatehouse_rpc_calls_total"
    assert value(gateway, calls, method="user.register", outcome="ok") == 1
    assert value(gateway, calls, method="auth.login", outcome="invalid_credentials") == 1
    assert value(gateway, calls, method="auth.login", outcome="rate_limited") == 1
    assert value(gateway, "gatehouse_rpc_call_duration_seconds_count", method="auth.login") == 3
    assert value(gateway, "gatehouse_rpc_calls_in_flight") == 0
    assert {"gatehouse_rpc_late_replies", "gatehouse_rpc_malformed"} <= names

    names, user_metrics = await scrape(user.url)
    assert names >= WORKER_FAMILIES
    handled = "gatehouse_rpc_handled_total"
    assert value(user_metrics, handled, method="user.register", outcome="ok") == 1
    assert value(user_metrics, "gatehouse_password_hash_seconds_count", operation="hash") == 1
    assert value(user_metrics, "gatehouse_rpc_queue_depth", service="user") == 0
    assert (value(user_metrics, "gatehouse_db_pool_max_connections") or 0) > 0

    names, auth_metrics = await scrape(auth.url)
    assert names >= WORKER_FAMILIES | {"gatehouse_login_throttled"}
    assert value(auth_metrics, handled, method="auth.login", outcome="ok") == 1
    assert value(auth_metrics, handled, method="auth.login", outcome="invalid_credentials") == 1
    assert value(auth_metrics, handled, method="auth.change_password", outcome="ok") == 1
    assert value(auth_metrics, "gatehouse_login_throttled_total") == 1
    # Two logins that reached bcrypt and the change's check of the current password.
    assert value(auth_metrics, "gatehouse_password_hash_seconds_count", operation="verify") == 3
    assert value(auth_metrics, "gatehouse_password_hash_seconds_count", operation="hash") == 1
    assert value(auth_metrics, "gatehouse_rpc_queue_depth", service="auth") == 0
