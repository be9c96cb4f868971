"""Scenarios over HTTP: profile through the gateway vs one process, login storm, start-up.

Each function measures one round and returns rows; ``bench.runner`` merges
rounds and computes the ratios.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass

import bcrypt

from bench import wrk
from bench.http_client import Call, KeepAliveClient, LoadResult, drive
from bench.launcher import Launched
from bench.procstat import CpuMeter, cpu_seconds, memory_kib, usable_cores
from bench.report import Row
from bench.servers import postgres_pids, redis_pids
from common import event_loop, json_codec

PASSWORD = "bench-password-1"  # noqa: S105 - an account the benchmark makes
PROFILE = "/api/users/profile"
LOGIN_CONNECTIONS = 16
PROBE_INTERVAL = 0.02
# The processes whose loop lag the login storm measures.
LAG_PROBED = ("gateway", "user", "auth")


@dataclass(frozen=True)
class HttpOptions:
    seconds: float
    warmup: float
    connections: int
    use_wrk: bool
    database_url: str
    redis_url: str


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def new_account(port: int) -> tuple[str, str]:
    """Register a user through the gateway and log in: (username, token)."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    client = KeepAliveClient(port)
    try:
        account = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        status, body = await client.request("POST", "/api/users/register", body=account)
        if status != 201:
            raise RuntimeError(f"register answered {status}: {body!r}")
        login = {"username": name, "password": PASSWORD}
        status, body = await client.request("POST", "/api/auth/login", body=login)
        if status != 200:
            raise RuntimeError(f"login answered {status}: {body!r}")
    finally:
        client.close()
    return name, str(json_codec.loads(body)["token"])


async def _new_accounts(port: int, count: int) -> list[str]:
    """``count`` accounts, a few at a time: each costs two bcrypt hashes, and
    all at once on a busy machine ran past the RPC deadline (504)."""
    at_once = asyncio.Semaphore(usable_cores())

    async def one() -> str:
        async with at_once:
            name, _ = await new_account(port)
            return name

    return list(await asyncio.gather(*(one() for _ in range(count))))


def _profile_call(token: str) -> Call:
    def call(client: KeepAliveClient, n: int) -> Awaitable[tuple[int, bytes]]:
        return client.request("GET", PROFILE, token=token)

    return call


def _row_from_load(scenario: str, variant: str, load: LoadResult) -> Row:
    latencies_ms = [x * 1000 for x in load.latencies]
    return Row(
        scenario,
        variant,
        rate=load.rate,
        p50_ms=percentile(latencies_ms, 0.5),
        p99_ms=percentile(latencies_ms, 0.99),
        errors=load.errors,
    )


def load_profile(
    target: Launched, token: str, options: HttpOptions, groups: dict[str, list[int]], variant: str
) -> Row:
    """Warm up, then ``GET /api/users/profile`` at ``connections`` for ``seconds``."""
    call = _profile_call(token)
    url = f"http://127.0.0.1:{target.port}{PROFILE}"
    if options.use_wrk:
        wrk.run_wrk(url, token=token, connections=options.connections, seconds=options.warmup)
    else:
        event_loop.run(drive(call, target.port, options.connections, options.warmup))
    meter = CpuMeter(
        groups
        | {
            "postgres": postgres_pids(options.database_url),
            "redis": event_loop.run(redis_pids(options.redis_url)),
        }
    )
    if options.use_wrk:
        meter.start()
        result = wrk.run_wrk(
            url, token=token, connections=options.connections, seconds=options.seconds
        )
        meter.add_late("postgres", postgres_pids(options.database_url))
        usage = meter.stop({"wrk": (result.cpu_seconds, result.peak_rss_mib)})
        row = Row(
            "profile",
            variant,
            rate=result.rate,
            p50_ms=result.p50_ms,
            p99_ms=result.p99_ms,
            errors=result.errors,
        )
        requests = result.requests
    else:
        own_before = cpu_seconds(os.getpid()) or 0.0
        meter.start()
        load = event_loop.run(drive(call, target.port, options.connections, options.seconds))
        own = (cpu_seconds(os.getpid()) or 0.0) - own_before
        meter.add_late("postgres", postgres_pids(options.database_url))
        usage = meter.stop({"loadgen": (own, (memory_kib(os.getpid()) or 0) / 1024)})
        row = _row_from_load("profile", variant, load)
        requests = load.requests
    row.cpu_us_per_request = usage.per_request_us(requests)
    row.peak_rss_mib = usage.peak_rss_mib
    return row


def bcrypt_hash_seconds(rounds: int, samples: int) -> float:
    """Median time of one bcrypt hash at ``rounds`` on this machine, now."""
    salt = bcrypt.gensalt(rounds)
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        bcrypt.hashpw(PASSWORD.encode(), salt)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


async def _probe_lag(port: int, seconds: float, idle_ms: float) -> list[float]:
    """Latency of ``/health/live`` above its idle median, every PROBE_INTERVAL.

    The probe waits for the process's event loop like every request does, so
    its extra latency under load is the loop's lag (plus a few µs of handling).
    """
    lags = []
    client = KeepAliveClient(port)
    stop_at = time.perf_counter() + seconds
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            await client.request("GET", "/health/live")
            lags.append(max(0.0, (time.perf_counter() - started) * 1000 - idle_ms))
            await asyncio.sleep(PROBE_INTERVAL)
    finally:
        client.close()
    return lags


async def _idle_probe_ms(port: int) -> float:
    client = KeepAliveClient(port)
    timings = []
    try:
        for _ in range(20):
            started = time.perf_counter()
            await client.request("GET", "/health/live")
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        client.close()
    return statistics.median(timings)


def login_storm(
    stack: dict[str, Launched], token: str, options: HttpOptions, bcrypt_rounds: int
) -> list[Row]:
    """Logins at LOGIN_CONNECTIONS for ``seconds``, with a profile probe and loop-lag probes.

    Each connection logs in as an account of its own: a storm of many users,
    not one account's logins, which the login throttle lets through one at a time.
    """
    hash_seconds = bcrypt_hash_seconds(bcrypt_rounds, samples=5)
    cores = usable_cores()
    gateway = stack["gateway"]
    names = event_loop.run(_new_accounts(gateway.port, LOGIN_CONNECTIONS))
    # Connection -> account, cleared before each drive so that each of its
    # LOGIN_CONNECTIONS connections gets an account of its own.
    name_of: dict[int, str] = {}

    def log_in(client: KeepAliveClient, n: int) -> Awaitable[tuple[int, bytes]]:
        if id(client) not in name_of:
            name_of[id(client)] = names[len(name_of) % len(names)]
        name = name_of[id(client)]
        return client.request(
            "POST", "/api/auth/login", body={"username": name, "password": PASSWORD}
        )

    async def storm() -> tuple[LoadResult, LoadResult, dict[str, list[float]]]:
        # Every process's loop: the gateway's and both workers' (their health ports).
        idle = {name: await _idle_probe_ms(stack[name].port) for name in LAG_PROBED}
        await drive(log_in, gateway.port, LOGIN_CONNECTIONS, options.warmup)
        name_of.clear()
        (logins, probe), lags = await asyncio.gather(
            asyncio.gather(
                drive(log_in, gateway.port, LOGIN_CONNECTIONS, options.seconds),
                drive(_profile_call(token), gateway.port, 1, options.seconds, pause=PROBE_INTERVAL),
            ),
            asyncio.gather(
                *(_probe_lag(stack[name].port, options.seconds, idle[name]) for name in LAG_PROBED)
            ),
        )
        return logins, probe, dict(zip(LAG_PROBED, lags, strict=True))

    meter = CpuMeter(
        {process: [launched.pid] for process, launched in stack.items()}
        | {
            "postgres": postgres_pids(options.database_url),
            "redis": event_loop.run(redis_pids(options.redis_url)),
        }
    )
    own_before = cpu_seconds(os.getpid()) or 0.0
    meter.start()
    logins, probe, lags = event_loop.run(storm())
    own = (cpu_seconds(os.getpid()) or 0.0) - own_before
    meter.add_late("postgres", postgres_pids(options.database_url))
    usage = meter.stop({"loadgen": (own, (memory_kib(os.getpid()) or 0) / 1024)})
    succeeded = logins.requests - logins.errors
    storm_row = _row_from_load("login", "storm through gateway", logins)
    storm_row.rate = succeeded / logins.seconds if logins.seconds else 0.0
    storm_row.cpu_us_per_request = usage.per_request_us(succeeded)
    storm_row.peak_rss_mib = usage.peak_rss_mib
    storm_row.extra = {}
    for name, lag in lags.items():
        storm_row.extra[f"{name}_lag_p99_ms"] = percentile(lag, 0.99)
        storm_row.extra[f"{name}_lag_max_ms"] = max(lag, default=0.0)
    bound = Row("login", "bcrypt bound", rate=cores / hash_seconds)
    bound.extra = {"hash_ms": hash_seconds * 1000, "cores": float(cores)}
    return [storm_row, bound, _row_from_load("login", "profile during storm", probe)]


def startup_rows(stack: dict[str, Launched]) -> list[Row]:
    """Seconds from launch to /health 200 and idle RSS, per process."""
    return [
        Row(
            "startup",
            name,
            peak_rss_mib={name: process.idle_rss_mib()},
            extra={
                "seconds": process.startup_seconds or 0.0,
                "idle_rss_mib": process.idle_rss_mib(),
            },
        )
        for name, process in stack.items()
    ]
