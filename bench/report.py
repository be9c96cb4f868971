"""The bench's one table and its JSON: rows per scenario and variant, ratios to baselines."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

# Short process names keep the CPU and RSS columns readable.
ABBREVIATIONS = {
    "gateway": "gw",
    "user": "usr",
    "auth": "auth",
    "baseline": "base",
    "postgres": "pg",
    "redis": "rds",
    "nats": "nats",
    "worker": "wkr",
    "client": "cli",
    "wrk": "wrk",
    "loadgen": "load",
}


@dataclass
class Row:
    """One measured line: a variant of a scenario (medians over rounds once merged)."""

    scenario: str
    variant: str
    rate: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int | None = None
    cpu_us_per_request: dict[str, float] = field(default_factory=dict)
    peak_rss_mib: dict[str, float] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)
    ratio: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.scenario, self.variant

    @property
    def cpu_us_total(self) -> float:
        return sum(self.cpu_us_per_request.values())


@dataclass
class Ratio:
    name: str
    value: float
    target: str
    met: bool

    def text(self) -> str:
        return f"{self.name} {self.value:.2f} ({self.target}{'' if self.met else ' MISSED'})"


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _median_map(maps: list[dict[str, float]]) -> dict[str, float]:
    names = dict.fromkeys(name for one in maps for name in one)
    return {name: statistics.median([one[name] for one in maps if name in one]) for name in names}


def merge_rounds(rows: list[Row]) -> list[Row]:
    """One row per (scenario, variant), each figure the median of its rounds."""
    grouped: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        grouped.setdefault(row.key, []).append(row)
    merged = []
    for (scenario, variant), rounds in grouped.items():
        errors = _median([r.errors for r in rounds if r.errors is not None])
        merged.append(
            Row(
                scenario,
                variant,
                rate=_median([r.rate for r in rounds]),
                p50_ms=_median([r.p50_ms for r in rounds]),
                p99_ms=_median([r.p99_ms for r in rounds]),
                errors=None if errors is None else round(errors),
                cpu_us_per_request=_median_map([r.cpu_us_per_request for r in rounds]),
                peak_rss_mib={
                    name: max(r.peak_rss_mib.get(name, 0.0) for r in rounds)
                    for name in _median_map([r.peak_rss_mib for r in rounds])
                },
                extra=_median_map([r.extra for r in rounds]),
            )
        )
    return merged


def _figure(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _per_process(values: dict[str, float], *, total: bool) -> str:
    text = " ".join(f"{ABBREVIATIONS.get(k, k)} {v:.0f}" for k, v in values.items())
    if total and values:
        text += f" = {sum(values.values()):.0f}"
    return text or "-"


HEADER = (
    "scenario",
    "variant",
    "rate/s",
    "p50 ms",
    "p99 ms",
    "errors",
    "CPU µs per request, per process",
    "peak RSS MiB",
    "ratio to baseline (target)",
)


def render_table(rows: list[Row]) -> str:
    lines = [
        (
            row.scenario,
            row.variant,
            _figure(row.rate, 0),
            _figure(row.p50_ms, 2),
            _figure(row.p99_ms, 2),
            "-" if row.errors is None else str(row.errors),
            _per_process(row.cpu_us_per_request, total=True),
            _per_process(row.peak_rss_mib, total=False),
            row.ratio,
        )
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in [HEADER, *lines]) for i in range(len(HEADER))]
    numeric = {2, 3, 4, 5}

    def format_line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([format_line(HEADER), rule, *(format_line(cells) for cells in lines)])


def as_json(
    rows: list[Row], ratios: list[Ratio], notes: list[str], meta: dict[str, Any]
) -> dict[str, Any]:
    return {
        "meta": meta,
        "rows": [asdict(row) | {"cpu_us_total": row.cpu_us_total} for row in rows],
        "ratios": {ratio.name: asdict(ratio) for ratio in ratios},
        "notes": notes,
    }
