"""Scenario 2: RPC round trip of ``bench.echo`` at 1 and N in flight.

The product (RpcClient + one RpcServer worker process) against the naive
Redis-list loop and NATS request/reply, each measured in the same run on the
same machine. The client runs in the bench process.
"""

from __future__ import annotations

import multiprocessing
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from bench import rpc_baselines
from bench.http_scenarios import percentile
from bench.procstat import CpuMeter, cpu_seconds, memory_kib
from bench.report import Row
from bench.rpc_roundtrip import CallOnce, CallResult, cleanup, drive_calls, gatehouse_caller, serve
from bench.servers import nats_pids, redis_pids
from common import event_loop

READY_SECONDS = 20.0
SPAWN = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class RpcOptions:
    seconds: float
    warmup: float
    levels: tuple[int, ...]
    redis_url: str


@contextmanager
def worker_process(target: Callable[..., None], *args: Any, stop: Any = None) -> Iterator[int]:
    """A worker in its own (spawned) process, ready before the block, stopped after it."""
    ready = SPAWN.Event()
    process = SPAWN.Process(
        target=target, args=(*args, ready) if stop is None else (*args, ready, stop)
    )
    process.start()
    try:
        if not ready.wait(READY_SECONDS):
            raise RuntimeError(f"{getattr(target, '__name__', target)} worker did not start")
        assert process.pid is not None
        yield process.pid
    finally:
        if stop is not None:
            stop.set()
        else:
            process.terminate()
        process.join(15)
        if process.is_alive():
            process.kill()
            process.join(5)


async def _timed_calls(
    call: CallOnce, inflight: int, options: RpcOptions, meter: CpuMeter
) -> tuple[CallResult, float]:
    """Warm up, then calls for ``seconds`` with ``meter`` running: (result, client CPU s)."""
    await drive_calls(call, inflight, options.warmup)
    own_before = cpu_seconds(os.getpid()) or 0.0
    meter.start()
    result = await drive_calls(call, inflight, options.seconds)
    return result, (cpu_seconds(os.getpid()) or 0.0) - own_before


def _measure(
    variant: str,
    caller: Callable[[int], AbstractAsyncContextManager[CallOnce]],
    groups: dict[str, list[int]],
    options: RpcOptions,
) -> list[Row]:
    rows = []
    for inflight in options.levels:
        meter = CpuMeter(groups)

        async def run(inflight: int, meter: CpuMeter) -> tuple[CallResult, float]:
            async with caller(inflight) as call:
                return await _timed_calls(call, inflight, options, meter)

        result, client_cpu = event_loop.run(run(inflight, meter))
        usage = meter.stop({"client": (client_cpu, (memory_kib(os.getpid()) or 0) / 1024)})
        latencies_ms = [x * 1000 for x in result.latencies]
        rows.append(
            Row(
                f"rpc@{inflight}",
                variant,
                rate=result.rate,
                p50_ms=percentile(latencies_ms, 0.5),
                p99_ms=percentile(latencies_ms, 0.99),
                errors=0,
                cpu_us_per_request=usage.per_request_us(result.calls),
                peak_rss_mib=usage.peak_rss_mib,
            )
        )
    return rows


def rpc_round(options: RpcOptions, notes: list[str]) -> list[Row]:
    """One round of every variant at every level."""
    redis_url = options.redis_url
    redis = event_loop.run(redis_pids(redis_url))
    rows: list[Row] = []

    prefix = f"bench-rpc-{uuid.uuid4().hex[:8]}"
    try:
        with worker_process(serve, redis_url, prefix, "reliable", stop=SPAWN.Event()) as pid:

            def product(inflight: int) -> AbstractAsyncContextManager[CallOnce]:
                return gatehouse_caller(redis_url, prefix)

            rows += _measure("gatehouse", product, {"worker": [pid], "redis": redis}, options)
    finally:
        event_loop.run(cleanup(redis_url, prefix))

    prefix = f"bench-rpc-{uuid.uuid4().hex[:8]}"
    try:
        with worker_process(rpc_baselines.serve_naive, redis_url, prefix) as pid:

            def naive(inflight: int) -> AbstractAsyncContextManager[CallOnce]:
                return rpc_baselines.naive_caller(redis_url, prefix, inflight)

            rows += _measure("naive redis loop", naive, {"worker": [pid], "redis": redis}, options)
    finally:
        event_loop.run(cleanup(redis_url, prefix))

    missing = event_loop.run(rpc_baselines.nats_reachable())
    if missing:
        note = f"NATS request/reply skipped: {missing}"
        if note not in notes:
            notes.append(note)
        return rows
    with worker_process(rpc_baselines.serve_nats, rpc_baselines.NATS_URL) as pid:

        def over_nats(inflight: int) -> AbstractAsyncContextManager[CallOnce]:
            return rpc_baselines.nats_caller(rpc_baselines.NATS_URL)

        rows += _measure(
            "nats request/reply", over_nats, {"worker": [pid], "nats": nats_pids()}, options
        )
    return rows
