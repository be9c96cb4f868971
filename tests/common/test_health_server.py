"""The workers' one HTTP port: GET /health, and nothing else."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from common.health_server import HealthServer
from tests.e2e.helpers import split_raw


class Check:
    def __init__(self) -> None:
        self.healthy = True
        self.calls = 0

    async def __call__(self) -> tuple[bool, dict[str, Any]]:
        self.calls += 1
        return self.healthy, {"status": "healthy" if self.healthy else "unhealthy", "n": 1}


@pytest.fixture
def check() -> Check:
    return Check()


@pytest.fixture
async def server(check: Check) -> AsyncIterator[HealthServer]:
    health = HealthServer(check, host="127.0.0.1", port=0)
    await health.start()
    yield health
    await health.close()


async def exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read until the server closes; status, headers, body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
        await writer.wait_closed()
    return split_raw(response)


def request(method: str, path: str, *extra_headers: str) -> bytes:
    headers = "".join(
        f"{line}\r\n" for line in ("Host: localhost", "User-Agent: probe", *extra_headers)
    )
    return f"{method} {path} HTTP/1.1\r\n{headers}\r\n".encode()


def assert_error(
    status: int, headers: dict[str, str], body: bytes, expected: int, code: str
) -> dict[str, Any]:
    """The gateway's error shape, with the request id echoed in X-Request-ID."""
    assert status == expected
    decoded: dict[str, Any] = json.loads(body)
    assert set(decoded) == {"success", "error", "request_id"}
    assert decoded["success"] is False
    assert set(decoded["error"]) == {"code", "message", "details"}
    assert decoded["error"]["code"] == code
    assert decoded["error"]["details"] == {}
    assert headers["x-request-id"] == decoded["request_id"]
    return decoded


async def test_the_port_is_chosen_by_the_system(server: HealthServer) -> None:
    assert server.port > 0


async def test_healthy_is_200_with_the_checks_body(server: HealthServer, check: Check) -> None:
    status, headers, body = await exchange(server.port, request("GET", "/health"))

    assert status == 200
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    assert json.loads(body) == {"status": "healthy", "n": 1}
    assert check.calls == 1


async def test_unhealthy_is_503(server: HealthServer, check: Check) -> None:
    check.healthy = False

    status, _, body = await exchange(server.port, request("GET", "/health"))

    assert status == 503
    assert json.loads(body)["status"] == "unhealthy"


async def test_liveness_is_200_whatever_the_check_says(server: HealthServer, check: Check) -> None:
    check.healthy = False

    status, _, body = await exchange(server.port, request("GET", "/health/live"))

    assert status == 200
    assert json.loads(body) == {"status": "alive"}
    assert check.calls == 0


async def test_liveness_refuses_other_methods(server: HealthServer) -> None:
    status, _, _ = await exchange(server.port, request("POST", "/health/live"))

    assert status == 405


async def test_a_query_string_is_ignored(server: HealthServer) -> None:
    status, _, _ = await exchange(server.port, request("GET", "/health?verbose=1"))

    assert status == 200


@pytest.mark.parametrize("path", ["/", "/healthz", "/health/extra", "/metrics", "/api/users"])
async def test_other_paths_are_404(server: HealthServer, check: Check, path: str) -> None:
    status, headers, body = await exchange(server.port, request("GET", path))

    assert_error(status, headers, body, 404, "not_found")
    assert check.calls == 0


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_other_methods_are_405(server: HealthServer, check: Check, method: str) -> None:
    status, headers, body = await exchange(server.port, request(method, "/health"))

    assert_error(status, headers, body, 405, "method_not_allowed")
    assert check.calls == 0


async def test_a_garbage_request_line_is_400_and_the_server_keeps_serving(
    server: HealthServer,
) -> None:
    status, headers, body = await exchange(server.port, b"garbage\r\n\r\n")

    assert_error(status, headers, body, 400, "bad_request")
    assert (await exchange(server.port, request("GET", "/health")))[0] == 200


async def test_a_client_that_hangs_up_does_not_stop_the_server(server: HealthServer) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.close()
    await writer.wait_closed()

    assert (await exchange(server.port, request("GET", "/health")))[0] == 200


async def test_each_request_reads_the_check_afresh(server: HealthServer, check: Check) -> None:
    first, _, _ = await exchange(server.port, request("GET", "/health"))
    check.healthy = False
    second, _, _ = await exchange(server.port, request("GET", "/health"))

    assert (first, second) == (200, 503)
    assert check.calls == 2


async def test_after_close_the_port_refuses_connections(check: Check) -> None:
    health = HealthServer(check, host="127.0.0.1", port=0)
    await health.start()
    port = health.port
    await health.close()

    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)


@pytest.mark.parametrize(("path", "expected"), [("/health", 200), ("/health/live", 200)])
async def test_head_answers_like_get_without_a_body(
    server: HealthServer, path: str, expected: int
) -> None:
    status, headers, body = await exchange(server.port, request("HEAD", path))

    assert status == expected
    assert body == b""
    assert int(headers["content-length"]) > 0


async def test_an_error_echoes_the_callers_request_id(server: HealthServer) -> None:
    status, headers, body = await exchange(
        server.port, request("GET", "/nope", "X-Request-ID: probe-42")
    )

    assert assert_error(status, headers, body, 404, "not_found")["request_id"] == "probe-42"


async def test_an_unsafe_request_id_is_replaced(server: HealthServer) -> None:
    status, headers, body = await exchange(
        server.port, request("GET", "/nope", "X-Request-ID: a b<script>")
    )

    assert assert_error(status, headers, body, 404, "not_found")["request_id"] != "a b<script>"


async def test_too_many_header_lines_are_431(server: HealthServer) -> None:
    lines = [f"X-Filler-{n}: {n}" for n in range(200)]
    status, headers, body = await exchange(server.port, request("GET", "/health", *lines))

    assert_error(status, headers, body, 431, "request_header_fields_too_large")


async def test_a_header_line_over_the_limit_is_431(server: HealthServer) -> None:
    status, headers, body = await exchange(
        server.port, request("GET", "/health", "X-Big: " + "x" * 20_000)
    )

    assert_error(status, headers, body, 431, "request_header_fields_too_large")


async def test_metrics_are_served_as_prometheus_text_when_given(check: Check) -> None:
    async def metrics() -> bytes:
        return b"# TYPE up gauge\nup 1.0\n"

    health = HealthServer(check, host="127.0.0.1", port=0, metrics=metrics)
    await health.start()
    try:
        status, headers, body = await exchange(health.port, request("GET", "/metrics"))
    finally:
        await health.close()

    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=")
    assert body == b"# TYPE up gauge\nup 1.0\n"
    assert check.calls == 0


async def test_without_metrics_the_path_is_not_found(server: HealthServer) -> None:
    status, _, _ = await exchange(server.port, request("GET", "/metrics"))

    assert status == 404


async def test_metrics_answer_head_and_refuse_other_methods(check: Check) -> None:
    async def metrics() -> bytes:
        return b"up 1.0\n"

    health = HealthServer(check, host="127.0.0.1", port=0, metrics=metrics)
    await health.start()
    try:
        head = await exchange(health.port, request("HEAD", "/metrics"))
        post = await exchange(health.port, request("POST", "/metrics"))
    finally:
        await health.close()

    assert (head[0], head[2]) == (200, b"")
    assert_error(*post, 405, "method_not_allowed")
