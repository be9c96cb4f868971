"""``gatehouse bench``: every scenario with its baseline in the same run, one table.

Starts what it measures (gateway + one user and one auth worker as real
processes, a single-process baseline app, RPC workers) against
DATABASE_URL / REDIS_URL or the local defaults, in a database and an
RPC_PREFIX of its own that are removed afterwards. Loopback only; every
load loop runs for a fixed time.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import platform
import secrets
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
from redis.asyncio import Redis

from bench import moleculer_peer, wrk
from bench.baseline_app import SETTINGS as BASELINE_SETTINGS
from bench.http_scenarios import (
    LAG_PROBED,
    HttpOptions,
    load_profile,
    login_storm,
    new_account,
    startup_rows,
)
from bench.launcher import Launcher
from bench.procstat import usable_cores
from bench.report import Ratio, Row, as_json, merge_rounds, render_table
from bench.rpc_scenario import RpcOptions, rpc_round
from bench.scratch import ADMIN_URL, scratch_database
from common.config.db import database_of

SCENARIOS = ("profile", "rpc", "login", "startup")
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
RPC_LEVELS = (1, 64)
SCENARIO_ORDER = ["profile", *(f"rpc@{level}" for level in RPC_LEVELS), "login", "startup"]
# Idle RSS is read this long after the last process is healthy.
IDLE_SECONDS = 0.5
GATEWAY = "gateway (RPC to user worker)"
BASELINE = "single process baseline"
MOLECULER = "moleculer-web (Redis transporter)"
COMPARED = "gateway, --compare-tree"


@dataclass(frozen=True)
class BenchOptions:
    rounds: int = 3
    seconds: float = 5.0
    rpc_seconds: float = 3.0
    warmup: float = 1.0
    connections: int = 64
    client: str = "auto"
    bcrypt_rounds: int = 10
    log_level: str = "INFO"
    json_out: Path | None = None
    only: tuple[str, ...] = SCENARIOS
    compare_tree: Path | None = None

    @classmethod
    def quick(cls, **overrides: Any) -> BenchOptions:
        """A smoke test: every scenario and ratio, tiny durations, nothing to read into."""
        quick = {"rounds": 1, "seconds": 1.0, "rpc_seconds": 0.3, "warmup": 0.2}
        return cls(**(quick | {"bcrypt_rounds": 4} | overrides))


def run_bench(options: BenchOptions, command: str) -> int:
    unknown = set(options.only) - set(SCENARIOS)
    if unknown:
        print(f"gatehouse bench: unknown scenario(s) {sorted(unknown)}", file=sys.stderr)
        return 2
    use_wrk = options.client == "wrk" or (options.client == "auto" and wrk.available())
    if use_wrk and not wrk.available():
        print("gatehouse bench: --client wrk, but wrk is not installed", file=sys.stderr)
        return 2
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    notes = [
        "load generator for the profile scenario: "
        + ("wrk -t2 (C, its CPU counted as 'wrk')" if use_wrk else "built-in asyncio client"),
        f"single process baseline: {BASELINE_SETTINGS}",
    ]
    # asyncio.Runner turns Ctrl-C into a cancellation that a load loop may
    # absorb; a handler of our own makes it stop the whole run (cleanup included).
    signal.signal(signal.SIGINT, _interrupt)
    rows: list[Row] = []
    load_before = os.getloadavg()[0]
    with (
        scratch_database() as database_url,
        tempfile.TemporaryDirectory() as logs,
        _moleculer_folder(options, notes) as moleculer,
    ):
        env = {
            "APP_ENV": "development",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "RPC_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
            "JWT_SECRET": secrets.token_urlsafe(48),
            "BCRYPT_ROUNDS": str(options.bcrypt_rounds),
            "LOG_LEVEL": options.log_level,
            # All load comes from one address: the per-IP limit on registration
            # (20 an hour) would answer the login storm's accounts with 429.
            "RATE_LIMIT_REGISTER": "off",
        }
        http = HttpOptions(
            options.seconds, options.warmup, options.connections, use_wrk, database_url, redis_url
        )
        rpc = RpcOptions(options.rpc_seconds, options.warmup, RPC_LEVELS, redis_url)
        for round_number in range(1, options.rounds + 1):
            print(f"gatehouse bench: round {round_number} of {options.rounds}", file=sys.stderr)
            if {"profile", "login", "startup"} & set(options.only):
                compare = None
                if options.compare_tree is not None:
                    other_env = env | {"RPC_PREFIX": env["RPC_PREFIX"] + "-compare"}
                    compare = Launcher(other_env, Path(logs), options.compare_tree)
                rows += _http_round(Launcher(env, Path(logs)), compare, moleculer, http, options)
                asyncio.run(_forget_keys(redis_url, env["RPC_PREFIX"]))
            asyncio.run(_forget_keys(redis_url, env["RPC_PREFIX"] + "-compare"))
            if "rpc" in options.only:
                rows += rpc_round(rpc, notes)
    merged = sorted(merge_rounds(rows), key=lambda row: SCENARIO_ORDER.index(row.scenario))
    ratios = compute_ratios(merged)
    # Other work on the machine skews every figure; say how busy it was.
    load = f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    meta = _meta(options, command, use_wrk) | {
        "load_average": load,
        "database": database_of(database_url),
        "rpc_prefix": env["RPC_PREFIX"],
    }
    print(
        f"gatehouse bench, {meta['date']}, {meta['machine']}, medians of {options.rounds} "
        f"round(s), {options.seconds:g}s HTTP / {options.rpc_seconds:g}s RPC per cell, "
        f"BCRYPT_ROUNDS={options.bcrypt_rounds}, LOG_LEVEL={options.log_level}, {load}"
    )
    print(render_table(merged))
    for note in notes:
        print(f"note: {note}")
    if options.json_out is not None:
        document = as_json(merged, ratios, notes, meta)
        options.json_out.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _moleculer_folder(options: BenchOptions, notes: list[str]) -> Iterator[Path | None]:
    """moleculer-web's packages for the whole run, or None (with a note saying why)."""
    why = moleculer_peer.unavailable() if "profile" in options.only else "not asked for"
    if why is not None:
        if "profile" in options.only:
            notes.append(f"moleculer-web peer skipped: {why}")
        yield None
        return
    with contextlib.ExitStack() as stack:
        try:
            folder = stack.enter_context(moleculer_peer.installed())
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            notes.append(f"moleculer-web peer skipped: {exc}")
            yield None
            return
        notes.append(f"moleculer-web peer: {moleculer_peer.describe()}")
        yield folder


def _http_round(
    launcher: Launcher,
    compare: Launcher | None,
    moleculer: Path | None,
    http: HttpOptions,
    options: BenchOptions,
) -> list[Row]:
    """Start-up, profile (gateway, then the baseline) and the login storm, on a fresh stack.

    With a ``compare`` launcher, the same profile load then runs against a
    stack from another source tree, in the same round, so that both see the
    machine in the same state.
    """
    try:
        stack = launcher.start_stack()
        time.sleep(IDLE_SECONDS)
        rows = startup_rows(stack) if "startup" in options.only else []
        _, token = asyncio.run(new_account(stack["gateway"].port))
        if "profile" in options.only:
            baseline = launcher.launch("baseline")
            launcher.wait_healthy(baseline)
            groups = {process: [launched.pid] for process, launched in stack.items()}
            rows.append(load_profile(stack["gateway"], token, http, groups, GATEWAY))
            baseline_pids = {"baseline": [baseline.pid]}
            rows.append(load_profile(baseline, token, http, baseline_pids, BASELINE))
            if moleculer is not None:
                peer = moleculer_peer.start(launcher, moleculer)
                peer_pids = {name: [launched.pid] for name, launched in peer.items()}
                rows.append(load_profile(peer["api"], token, http, peer_pids, MOLECULER))
        if "login" in options.only:
            rows += login_storm(stack, token, http, options.bcrypt_rounds)
    finally:
        launcher.stop()
    if compare is not None and "profile" in options.only:
        # Once the first stack has stopped: PostgreSQL's connections are shared.
        rows.append(_profile_of_other_tree(compare, http))
    return rows


def _profile_of_other_tree(compare: Launcher, http: HttpOptions) -> Row:
    try:
        stack = compare.start_stack()
        _, token = asyncio.run(new_account(stack["gateway"].port))
        groups = {process: [launched.pid] for process, launched in stack.items()}
        return load_profile(stack["gateway"], token, http, groups, COMPARED)
    finally:
        compare.stop()


async def _forget_keys(redis_url: str, prefix: str) -> None:
    client = Redis.from_url(redis_url)
    try:
        async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            await client.delete(key)
    finally:
        await client.aclose()


def compute_ratios(rows: list[Row]) -> list[Ratio]:
    """Every ratio the issue sets a target for; each is also written into its row."""
    by_key = {row.key: row for row in rows}
    ratios: list[Ratio] = []

    def add(row: Row | None, name: str, value: float | None, target: str, met: bool) -> None:
        if row is None or value is None:
            return
        ratio = Ratio(name, value, target, met)
        ratios.append(ratio)
        row.ratio = "; ".join(filter(None, [row.ratio, ratio.text()]))

    def quotient(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    gateway, base = by_key.get(("profile", GATEWAY)), by_key.get(("profile", BASELINE))
    if gateway and base:
        throughput = quotient(gateway.rate, base.rate)
        p99 = quotient(gateway.p99_ms, base.p99_ms)
        add(
            gateway,
            "profile.throughput_vs_baseline",
            throughput,
            ">= 1.2",
            (throughput or 0) >= 1.2,
        )
        add(gateway, "profile.p99_vs_baseline", p99, "<= 1.5", (p99 or 99) <= 1.5)
    if gateway:
        cpu = gateway.cpu_us_total
        add(gateway, "profile.cpu_us_per_request", cpu, "<= 250", cpu <= 250)
    peer = by_key.get(("profile", MOLECULER))
    if gateway and peer:
        vs_peer = quotient(gateway.rate, peer.rate)
        add(gateway, "profile.throughput_vs_moleculer", vs_peer, ">= 1.0", (vs_peer or 0) >= 1)
    compared = by_key.get(("profile", COMPARED))
    if gateway and compared:
        faster = quotient(gateway.rate, compared.rate)
        cheaper = quotient(gateway.cpu_us_total, compared.cpu_us_total)
        add(gateway, "profile.throughput_vs_compare_tree", faster, "info", True)
        add(gateway, "profile.cpu_vs_compare_tree", cheaper, "info", True)
    for level in RPC_LEVELS:
        product = by_key.get((f"rpc@{level}", "gatehouse"))
        naive = by_key.get((f"rpc@{level}", "naive redis loop"))
        nats = by_key.get((f"rpc@{level}", "nats request/reply"))
        if product is None:
            continue
        if level == 1 and naive:
            p50 = quotient(product.p50_ms, naive.p50_ms)
            add(product, "rpc@1.p50_vs_naive", p50, "<= 1.5", (p50 or 99) <= 1.5)
        if level > 1 and naive:
            vs_naive = quotient(product.rate, naive.rate)
            add(product, f"rpc@{level}.throughput_vs_naive", vs_naive, ">= 3", (vs_naive or 0) >= 3)
        if level > 1 and nats:
            vs_nats = quotient(product.rate, nats.rate)
            add(product, f"rpc@{level}.throughput_vs_nats", vs_nats, ">= 1.0", (vs_nats or 0) >= 1)
    storm, bound = (
        by_key.get(("login", "storm through gateway")),
        by_key.get(("login", "bcrypt bound")),
    )
    if storm and bound:
        share = quotient(storm.rate, bound.rate)
        add(storm, "login.vs_bcrypt_bound", share, ">= 0.9", (share or 0) >= 0.9)
        for process in LAG_PROBED:
            lag = storm.extra.get(f"{process}_lag_max_ms")
            add(storm, f"login.{process}_loop_lag_max_ms", lag, "< 20", (lag or 0) < 20)
    for process in ("gateway", "user", "auth"):
        started = by_key.get(("startup", process))
        if started:
            seconds, rss = started.extra.get("seconds"), started.extra.get("idle_rss_mib")
            add(started, f"startup.{process}.seconds", seconds, "< 3", (seconds or 99) < 3)
            add(started, f"startup.{process}.idle_rss_mib", rss, "< 80", (rss or 999) < 80)
    return ratios


def _meta(options: BenchOptions, command: str, use_wrk: bool) -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{_cpu_model()}, {usable_cores()} cores, {platform.system()}",
        "python": platform.python_version(),
        "command": command,
        "load_generator": "wrk" if use_wrk else "builtin",
        "database_server": ADMIN_URL.rsplit("@", 1)[-1],
        "options": {k: str(v) for k, v in asdict(options).items()},
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def command_line() -> str:
    return shlex.join(["gatehouse", *sys.argv[1:]])
