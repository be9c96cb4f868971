"""bcrypt hashing on a thread pool of its own, never on the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import bcrypt
from prometheus_client import Histogram

T = TypeVar("T")

# How much lower than the event loop's thread the bcrypt threads run by
# default (Linux nice levels are per thread; PASSWORD_NICENESS). At the same
# priority a storm of logins keeps every core busy hashing and the scheduler
# hands the loop a slice only every few tens of milliseconds: 45-70 ms of loop
# lag in the auth worker, and in the gateway beside it. Below it, a thread
# waking for I/O preempts them sooner (``python -m bench.bcrypt_priority``),
# while bcrypt still gets every cycle nothing else wants (on a machine shared
# with other busy work, that is less).
BCRYPT_NICENESS = 10

# bcrypt reads only the first 72 bytes; the bcrypt package raises beyond them,
# so the schemas refuse longer new passwords, and verify refuses longer ones.
MAX_PASSWORD_BYTES = 72
_COST = re.compile(rb"\A\$2[abxy]?\$(\d{2})\$")


class PasswordHasher:
    """Hash and verify passwords with ``rounds`` of bcrypt on ``threads`` threads.

    bcrypt releases the GIL, so a pool as large as the core count keeps every
    core busy while the event loop goes on serving other requests; the
    threads run below the loop's priority (``niceness``), so that a loop
    waking for I/O seldom waits for a core behind them.
    """

    def __init__(
        self,
        rounds: int,
        threads: int,
        *,
        niceness: int = BCRYPT_NICENESS,
        timing: Histogram | None = None,
    ) -> None:
        self.rounds = rounds
        # Labelled by operation ("hash", "verify"); timed on the thread, so the
        # figure is bcrypt's cost, not the wait for a free thread.
        self._timing = timing
        self._executor = ThreadPoolExecutor(
            max_workers=threads,
            thread_name_prefix="bcrypt",
            initializer=_yield_to_the_loop,
            initargs=(niceness,),
        )
        # Verified against when a login names no user, so that an unknown user
        # costs as much time as a wrong password and reveals nothing.
        self._decoy_hash = bcrypt.hashpw(b"decoy-password-1", bcrypt.gensalt(rounds))

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        salt = bcrypt.gensalt(self.rounds)
        hashed = await loop.run_in_executor(
            self._executor, self._timed, "hash", bcrypt.hashpw, password.encode(), salt
        )
        return hashed.decode()

    async def verify(self, password: str, hashed: str | None) -> bool:
        """Constant-time check that takes at least one hash at the current cost.

        ``hashed=None`` (no such user) answers False after the same work. A
        password over 72 bytes is wrong, even when its first 72 bytes are
        right, after the same work as any wrong password.
        """
        candidate = password.encode()
        too_long = len(candidate) > MAX_PASSWORD_BYTES
        target = hashed.encode() if hashed is not None else self._decoy_hash
        loop = asyncio.get_running_loop()
        matches = await loop.run_in_executor(
            self._executor,
            self._timed,
            "verify",
            self._check,
            candidate[:MAX_PASSWORD_BYTES],
            target,
            too_long,
        )
        return matches and hashed is not None

    def needs_rehash(self, hashed: str) -> bool:
        """True for a hash of another cost than BCRYPT_ROUNDS (rehash it at the next login)."""
        cost = _cost(hashed.encode())
        return cost is not None and cost != self.rounds

    def _check(self, candidate: bytes, target: bytes, refuse: bool) -> bool:
        """On a bcrypt thread: compare, and when the answer is no from a hash
        cheaper than the current cost, burn a decoy compare at that cost too,
        so that a wrong password never answers faster than an unknown user."""
        matches = bcrypt.checkpw(candidate, target) and not refuse
        if not matches and (_cost(target) or self.rounds) < self.rounds:
            bcrypt.checkpw(candidate, self._decoy_hash)
        return matches

    def _timed(self, operation: str, work: Callable[..., T], *args: Any) -> T:
        started = time.perf_counter()
        try:
            return work(*args)
        finally:
            if self._timing is not None:
                self._timing.labels(operation).observe(time.perf_counter() - started)


def _yield_to_the_loop(niceness: int) -> None:
    """Lower the calling (bcrypt) thread's priority; where nice is per process
    or not allowed, the thread keeps the loop's priority."""
    if niceness > 0 and sys.platform == "linux":
        thread = threading.get_native_id()
        with contextlib.suppress(OSError):
            current = os.getpriority(os.PRIO_PROCESS, thread)
            os.setpriority(os.PRIO_PROCESS, thread, min(19, current + niceness))


def _cost(hashed: bytes) -> int | None:
    match = _COST.match(hashed)
    return int(match.group(1)) if match else None
