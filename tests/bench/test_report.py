"""Merging rounds into medians, and the ratios computed from them."""

from __future__ import annotations

from bench.report import Row, merge_rounds, render_table
from bench.runner import BASELINE, GATEWAY, compute_ratios


def test_merge_takes_the_median_of_each_figure_per_variant() -> None:
    rounds = [
        Row("profile", GATEWAY, rate=r, p99_ms=p, errors=e, cpu_us_per_request={"gateway": c})
        for r, p, e, c in ((100, 9.0, 0, 300), (300, 1.0, 2, 100), (200, 5.0, 1, 200))
    ]
    (merged,) = merge_rounds(rounds)
    assert (merged.rate, merged.p99_ms, merged.errors) == (200, 5.0, 1)
    assert merged.cpu_us_per_request == {"gateway": 200}


def test_ratios_compare_with_the_baseline_of_the_same_run_and_flag_misses() -> None:
    gateway = Row("profile", GATEWAY, rate=500, p99_ms=30, cpu_us_per_request={"gateway": 400})
    baseline = Row("profile", BASELINE, rate=1000, p99_ms=10)
    ratios = {ratio.name: ratio for ratio in compute_ratios([gateway, baseline])}

    assert ratios["profile.throughput_vs_baseline"].value == 0.5
    assert not ratios["profile.throughput_vs_baseline"].met
    assert ratios["profile.p99_vs_baseline"].value == 3.0
    assert not ratios["profile.cpu_us_per_request"].met
    table = render_table([gateway, baseline])
    assert "profile.throughput_vs_baseline 0.50 (>= 1.2 MISSED)" in table


def test_rpc_ratios_need_their_baselines() -> None:
    product = Row("rpc@64", "gatehouse", rate=9000, p50_ms=2)
    naive = Row("rpc@64", "naive redis loop", rate=3000, p50_ms=8)
    names = {ratio.name for ratio in compute_ratios([product, naive])}
    assert names == {"rpc@64.throughput_vs_naive"}
