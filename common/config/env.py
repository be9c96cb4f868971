"""Typed reads from one environment mapping, each error naming its variable."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\S+)\s*$")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` requests per ``period`` seconds, in a burst or spread out."""

    count: int
    period: float


def parse_rate(name: str, raw: str) -> Rate | None:
    """``"10/1h"``, ``"5/m"``, ``"100/30s"``; ``"off"`` for no limit (None)."""
    if raw.strip().lower() == "off":
        return None
    match = _RATE.match(raw)
    if not match or int(match.group(1)) < 1:
        raise ConfigError(f"{name} must be a rate such as 10/1h, 5/m or off (got {raw!r})")
    period = match.group(2)
    return Rate(
        int(match.group(1)), parse_duration(name, period if period[0].isdigit() else f"1{period}")
    )


def parse_duration(name: str, raw: str) -> float:
    """Seconds from ``"24h"``, ``"30m"``, ``"1.5s"``, ``"250ms"`` or a bare number of seconds."""
    match = _DURATION.match(raw)
    if not match:
        raise ConfigError(f"{name} must be a duration such as 3600, 30m, 24h or 7d (got {raw!r})")
    seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if seconds <= 0:
        raise ConfigError(f"{name} must be positive (got {raw!r})")
    return seconds


class Env:
    """Typed reads from one environment mapping, each error naming its variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or default

    def integer(self, name: str, default: int, *, low: int = 1, high: int = 2**31) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number (got {raw!r})") from None
        if not low <= value <= high:
            raise ConfigError(f"{name} must be between {low} and {high} (got {value})")
        return value

    def port(self, name: str, default: int, *, listen: bool = False) -> int:
        """A port number.

        Kubernetes service links put ``tcp://host:port`` in variables such as
        REDIS_PORT (for a Service named ``redis``): for a port we connect to
        that names the right port; for one we listen on it is not ours, so the
        default stands.
        """
        raw = self.text(name)
        if raw is not None and raw.startswith("tcp://"):
            linked = raw.rpartition(":")[2]
            if listen:
                return default
            if not linked.isdigit():
                raise ConfigError(f"{name} must be a port number (got {raw!r})")
            return int(linked)
        return self.integer(name, default, high=65535)

    def duration(self, name: str, default: float) -> float:
        raw = self.text(name)
        return default if raw is None else parse_duration(name, raw)

    def rate(self, name: str, default: str) -> Rate | None:
        return parse_rate(name, self.text(name, default) or default)

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false (got {raw!r})")

    def items(self, name: str) -> tuple[str, ...]:
        """A comma-separated list; blanks between commas are ignored."""
        return tuple(item.strip() for item in (self.text(name) or "").split(",") if item.strip())
