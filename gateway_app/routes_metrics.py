"""``GET /metrics``: the gateway process's Prometheus metrics.

HTTP requests are counted by route pattern (``/api/users/profile``, never the
raw path: label values stay bounded) and status; paths that match no route
share the label ``unmatched``. The RPC client's stats live in the same
registry, so one scrape shows both.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from sanic import Request, Sanic
from sanic.response import HTTPResponse, raw

from common.metrics import CONTENT_TYPE, render
from common.rpc.stats import LATENCY_BUCKETS, RpcStats
from gateway_app.api_doc import Content, documented

UNMATCHED_ROUTE = "unmatched"


class GatewayMetrics:
    """The gateway's registry: HTTP requests and latency, plus the RPC client's stats."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.rpc = RpcStats(self.registry, side="client")
        self._requests = Counter(
            "gatehouse_http_requests",
            "HTTP requests answered, by route pattern and status.",
            ["route", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "gatehouse_http_request_duration_seconds",
            "Seconds from receiving a request to its response, by route pattern.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        # Label children cached: labels() takes a lock and builds a tuple.
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}

    def observe(self, route: str, status: int, seconds: float | None) -> None:
        children = self._children.get((route, status))
        if children is None:
            children = (self._requests.labels(route, str(status)), self._latency.labels(route))
            self._children[route, status] = children
        children[0].inc()
        if seconds is not None:
            children[1].observe(seconds)


def register_metrics_routes(app: Sanic[Any, Any]) -> None:
    """Count every response and serve ``GET /metrics``."""
    app.ctx.metrics = GatewayMetrics()
    app.register_middleware(_observe, "response")  # type: ignore[arg-type]
    app.add_route(metrics, "/metrics", methods=["GET"])


async def _observe(request: Request, response: HTTPResponse) -> None:
    started = getattr(request.ctx, "started", None)
    request.app.ctx.metrics.observe(
        request.uri_template or UNMATCHED_ROUTE,
        response.status,
        time.perf_counter() - started if started is not None else None,
    )


@documented(
    "Prometheus metrics of this gateway process (text format)",
    responses={200: Content(("text/plain",))},
)
async def metrics(request: Request) -> HTTPResponse:
    """The process's metrics in the Prometheus text format."""
    return raw(render(request.app.ctx.metrics.registry), content_type=CONTENT_TYPE)
