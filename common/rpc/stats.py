"""Per-method counters for calls, errors and the RPC layer's own events."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any


class RpcStats:
    """Counts what happened to each method; shown on every health port.

    ``event`` names: ``calls``, ``ok``, ``timeouts``, ``dropped_expired``,
    ``redelivered``, ``late_replies``, ``malformed``, ``replayed``; errors are
    counted by their code under ``errors``.
    """

    def __init__(self) -> None:
        self._events: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._errors: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def count(self, method: str, event: str, amount: int = 1) -> None:
        self._events[method][event] += amount

    def error(self, method: str, code: str) -> None:
        self._errors[method][code] += 1

    def get(self, method: str, event: str) -> int:
        return self._events[method][event]

    def errors(self, method: str) -> dict[str, int]:
        return dict(self._errors[method])

    def snapshot(self) -> dict[str, Any]:
        methods = sorted(set(self._events) | set(self._errors))
        return {
            method: {**self._events[method], "errors": dict(self._errors[method])}
            for method in methods
        }
