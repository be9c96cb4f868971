"""What happened to each RPC method, kept as Prometheus metrics.

One ``RpcStats`` per side (the calling ``client``, the serving ``server``)
writes into the process's registry; ``/metrics`` exposes it and tests read
it back with ``get`` and ``errors``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

Side = Literal["client", "server"]

OK = "ok"
TIMEOUT = "timeout"
# Label for events that cannot be tied to a method (malformed messages,
# late replies of forgotten calls).
NO_METHOD = "-"

# RPC round trips are milliseconds; a call may wait up to RPC_TIMEOUT (5 s).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

_EVENTS: dict[Side, dict[str, str]] = {
    "client": {
        "late_replies": "Replies that arrived after their caller gave up.",
        "malformed": "Replies that could not be decoded and were dropped.",
    },
    "server": {
        "redelivered": "Requests of a dead instance given back to the queue.",
        "dropped_expired": "Requests dropped because their deadline had passed.",
        "malformed": "Requests that could not be decoded and were dropped.",
        "replayed": "Requests answered from the idempotency record (a redelivery).",
    },
}
_NAMES: dict[Side, tuple[str, str, str]] = {
    # (outcomes counter, latency histogram, in-flight gauge)
    "client": ("calls", "call_duration_seconds", "calls_in_flight"),
    "server": ("handled", "handler_duration_seconds", "handling_in_flight"),
}


class RpcStats:
    """Outcomes, latency and the RPC layer's own events, per method.

    ``finished(method, outcome, seconds)`` records one call: ``outcome`` is
    ``"ok"``, ``"timeout"`` or an error code. ``count(method, event)`` counts
    one of the side's events (``redelivered``, ``late_replies``, ...).
    """

    def __init__(self, registry: CollectorRegistry | None = None, *, side: Side = "client") -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        outcomes, latency, in_flight = _NAMES[side]
        self._outcomes = Counter(
            f"gatehouse_rpc_{outcomes}",
            f"RPC calls {'made' if side == 'client' else 'handled'}, by method and outcome "
            "(ok, timeout, or the error code).",
            ["method", "outcome"],
            registry=self.registry,
        )
        self._latency = Histogram(
            f"gatehouse_rpc_{latency}",
            "Seconds from sending a call to its answer."
            if side == "client"
            else "Seconds a handler took, validation included.",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._in_flight = Gauge(
            f"gatehouse_rpc_{in_flight}",
            "Calls waiting for their reply." if side == "client" else "Requests being handled.",
            registry=self.registry,
        )
        self._events = {
            event: Counter(f"gatehouse_rpc_{event}", text, ["method"], registry=self.registry)
            for event, text in _EVENTS[side].items()
        }
        # Label children cached by key: labels() takes a lock and builds a tuple.
        self._outcome_children: dict[tuple[str, str], Any] = {}
        self._latency_children: dict[str, Any] = {}

    def watch_in_flight(self, read: Callable[[], int]) -> None:
        """Report ``read()`` as the in-flight gauge, evaluated at scrape time."""
        self._in_flight.set_function(read)

    def finished(self, method: str, outcome: str, seconds: float) -> None:
        child = self._outcome_children.get((method, outcome))
        if child is None:
            child = self._outcome_children[method, outcome] = self._outcomes.labels(method, outcome)
        child.inc()
        timer = self._latency_children.get(method)
        if timer is None:
            timer = self._latency_children[method] = self._latency.labels(method)
        timer.observe(seconds)

    def count(self, method: str, event: str, amount: int = 1) -> None:
        self._events[event].labels(method).inc(amount)

    def get(self, method: str, event: str) -> int:
        """How often ``event`` happened to ``method``; ``calls`` is every outcome."""
        outcomes = self._outcomes_of(method)
        if event == "calls":
            return sum(outcomes.values())
        if event in ("ok", "timeouts"):
            return outcomes.get(OK if event == "ok" else TIMEOUT, 0)
        value = self.registry.get_sample_value(f"gatehouse_rpc_{event}_total", {"method": method})
        return int(value or 0)

    def errors(self, method: str) -> dict[str, int]:
        """Error codes ``method`` answered with, and how often."""
        return {
            outcome: count
            for outcome, count in self._outcomes_of(method).items()
            if outcome not in (OK, TIMEOUT)
        }

    def _all_outcomes(self) -> dict[tuple[str, str], int]:
        return {
            (sample.labels["method"], sample.labels["outcome"]): int(sample.value)
            for sample in _totals(self._outcomes)
        }

    def _outcomes_of(self, method: str) -> dict[str, int]:
        return {
            outcome: count
            for (name, outcome), count in self._all_outcomes().items()
            if name == method
        }


def _totals(counter: Counter) -> list[Any]:
    return [
        sample
        for family in counter.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    ]
