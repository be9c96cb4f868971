"""A real worker process and its stop signals: a second one ends the drain at once."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import httpx
import redis

from common.keys import Keys
from common.rpc.message import Request, now_ms
from tests.e2e.helpers import PASSWORD, email_for
from tests.e2e.stack import Stack

# Slow hashing on one thread: the queued registrations would take well over
# ten seconds to drain, far more than a second signal may take to end it.
SLOW = {"BCRYPT_ROUNDS": "13", "PASSWORD_THREADS": "1", "DRAIN_TIMEOUT": "120s"}
QUEUED = 12
BUSY = 2
PROMPT_SECONDS = 6.0


def test_a_sigint_during_the_drain_stops_the_worker_at_once(
    stack_factory: Callable[..., Stack], unique: Callable[[str], str]
):
    stack = stack_factory(**SLOW)
    worker = stack.start("user")
    keys = Keys(stack.prefix)
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    try:
        stem = unique("stop")
        for index in range(QUEUED):
            name = f"{stem}_{index}"
            request = Request(
                method="user.register",
                params={"username": name, "email": email_for(name), "password": PASSWORD},
                reply_to=f"{stack.prefix}:reply:test",
                deadline=now_ms() + 120_000,
            )
            client.lpush(keys.request_queue("user"), request.encode())
        deadline = time.monotonic() + 30
        while httpx.get(f"{worker.url}/health", timeout=5).json()["inflight"] < BUSY:
            assert time.monotonic() < deadline, "the worker never got busy"
            time.sleep(0.05)

        worker.signal(signal.SIGTERM)
        time.sleep(0.5)
        assert worker.running(), "drained too fast to test the second signal"
        began = time.monotonic()
        worker.signal(signal.SIGINT)
        assert worker.wait(PROMPT_SECONDS) == 1, worker.log.read_text()[-3000:]
        assert time.monotonic() - began < PROMPT_SECONDS

        # What it did not answer is still there, for a live worker to redeliver.
        processing = [
            key for key in client.scan_iter(match=f"{stack.prefix}:rpc:user:processing:*")
        ]
        assert processing, "the unanswered requests were lost"
        assert sum(int(client.llen(key)) for key in processing) >= 1
    finally:
        client.close()
