"""``gatehouse bench --quick``: every scenario and ratio in the table and the JSON."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
import redis

from tests.conftest import Servers

pytestmark = pytest.mark.e2e

SCENARIOS = {"profile", "rpc@1", "rpc@64", "login", "startup"}
RATIOS = {
    "profile.throughput_vs_baseline",
    "profile.p99_vs_baseline",
    "profile.cpu_us_per_request",
    "profile.throughput_vs_moleculer",
    "rpc@1.p50_vs_naive",
    "rpc@64.throughput_vs_naive",
    "rpc@64.throughput_vs_nats",
    "login.vs_bcrypt_bound",
    "login.gateway_loop_lag_max_ms",
    "login.user_loop_lag_max_ms",
    "login.auth_loop_lag_max_ms",
    *(f"startup.{p}.{f}" for p in ("gateway", "user", "auth") for f in ("seconds", "idle_rss_mib")),
}
# PostgreSQL and Redis get columns too when they run on this machine.
PROCESSES = {"gateway", "user", "auth"}


@pytest.mark.timeout(240)
def test_quick_run_reports_every_scenario_and_ratio(servers: Servers, tmp_path: Path) -> None:
    json_out = tmp_path / "bench.json"
    gatehouse = Path(sys.executable).with_name("gatehouse")
    completed = subprocess.run(
        [str(gatehouse), "bench", "--quick", "--json-out", str(json_out)],
        env={
            **os.environ,
            "DATABASE_URL": servers.admin_database_url,
            "REDIS_URL": servers.redis_url,
        },
        capture_output=True,
        text=True,
        timeout=220,
        check=False,
        cwd=tmp_path,  # not the checkout: the installed command must find its own files
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    table, document = completed.stdout, json.loads(json_out.read_text())

    notes = document["notes"]
    nats_skipped = any("NATS request/reply skipped" in note for note in notes)
    peer_skipped = any("moleculer-web peer skipped" in note for note in notes)
    expected = (
        RATIOS
        - ({"rpc@64.throughput_vs_nats"} if nats_skipped else set())
        - ({"profile.throughput_vs_moleculer"} if peer_skipped else set())
    )
    assert set(document["ratios"]) == expected
    for name in expected:
        assert name in table
        assert isinstance(document["ratios"][name]["value"], float)
    assert {row["scenario"] for row in document["rows"]} == SCENARIOS
    for scenario in SCENARIOS:
        assert f"\n{scenario} " in table

    rows = {(row["scenario"], row["variant"]): row for row in document["rows"]}
    through_gateway = rows[("profile", "gateway (RPC to user worker)")]
    assert through_gateway["errors"] == 0
    assert set(through_gateway["cpu_us_per_request"]) >= PROCESSES
    assert all(row["errors"] in (0, None) for row in document["rows"])
    assert "load generator" in table
    assert "single process baseline: one Sanic process, uvloop, access log off" in table
    if not peer_skipped:
        peer = rows[("profile", "moleculer-web (Redis transporter)")]
        assert peer["errors"] == 0
        assert peer["rate"] > 0
    assert_cleaned_up(servers, document["meta"]["database"], document["meta"]["rpc_prefix"])


def assert_cleaned_up(servers: Servers, database: str, prefix: str) -> None:
    """The run's own database and Redis keys are gone."""

    async def database_exists() -> bool:
        conn = await asyncpg.connect(servers.admin_database_url)
        try:
            return bool(
                await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
            )
        finally:
            await conn.close()

    assert database.startswith("gatehouse_bench_")
    assert not asyncio.run(database_exists())
    client = redis.Redis.from_url(servers.redis_url)
    try:
        assert not list(client.scan_iter(match=f"{prefix}:*"))
    finally:
        client.close()
