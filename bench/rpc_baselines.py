"""What the product's RPC round trip is compared with, both serving ``bench.echo``.

- **naive**: the obvious Redis-list loop. The worker ``BRPOP``s one request and
  answers with one ``LPUSH``; each caller pushes its request and ``BRPOP``s its
  own reply list, one call at a time.
- **nats**: NATS request/reply with nats-py (a subscriber that responds).

Both decode and encode the JSON payload on each side, as the product does.
Workers run in their own process and stop on SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis

from bench.rpc_roundtrip import SERVICE, CallOnce
from common import event_loop, json_codec
from common.keys import Keys

NATS_SUBJECT = "bench.echo"
NATS_URL = "nats://127.0.0.1:4222"
BLOCK_SECONDS = 1


async def _until_terminated() -> asyncio.Event:
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    return stopped


def serve_naive(redis_url: str, prefix: str, ready: Any) -> None:
    """The naive worker: one request at a time, until SIGTERM."""

    async def main() -> None:
        stopped = await _until_terminated()
        redis = Redis.from_url(redis_url)
        queue = Keys(prefix).request_queue(SERVICE)
        ready.set()
        while not stopped.is_set():
            popped = await redis.brpop([queue], BLOCK_SECONDS)
            if popped is None:
                continue
            request = json_codec.loads(popped[1])
            reply = json_codec.dumps({"id": request["id"], "ok": True, "result": request["params"]})
            await redis.lpush(request["reply_to"], reply)
        await redis.aclose()

    event_loop.run(main())


@asynccontextmanager
async def naive_caller(redis_url: str, prefix: str, inflight: int) -> AsyncIterator[CallOnce]:
    """Callers that push a request and block on their own reply list, one connection each."""
    keys = Keys(prefix)
    queue = keys.request_queue(SERVICE)
    redis = Redis.from_url(redis_url, max_connections=inflight + 4)
    free_lists = [keys.reply_queue(f"naive-{uuid.uuid4().hex[:8]}") for _ in range(inflight)]

    async def call(n: int) -> Any:
        reply_to = free_lists.pop()
        try:
            message_id = uuid.uuid4().hex
            request = {"id": message_id, "method": "bench.echo", "reply_to": reply_to}
            await redis.lpush(queue, json_codec.dumps(request | {"params": {"n": n}}))
            popped = await redis.brpop([reply_to], 10)
            if popped is None:
                raise TimeoutError("naive worker did not answer")
            return json_codec.loads(popped[1])["result"]
        finally:
            free_lists.append(reply_to)

    try:
        yield call
    finally:
        await redis.aclose()


async def nats_reachable(url: str = NATS_URL) -> str | None:
    """None when a NATS server answers at ``url``, else why not."""
    try:
        import nats
    except ImportError:
        return "nats-py is not installed (pip install 'gatehouse[bench]')"
    try:
        client = await nats.connect(
            url, connect_timeout=1, allow_reconnect=False, max_reconnect_attempts=0
        )
    except Exception as exc:
        return f"no NATS server at {url} ({exc.__class__.__name__})"
    await client.close()
    return None


def serve_nats(url: str, ready: Any) -> None:
    """A NATS responder on NATS_SUBJECT, until SIGTERM."""
    import nats

    async def main() -> None:
        stopped = await _until_terminated()
        client = await nats.connect(url)

        async def respond(message: Any) -> None:
            params = json_codec.loads(message.data)
            await message.respond(json_codec.dumps({"ok": True, "result": params}))

        await client.subscribe(NATS_SUBJECT, cb=respond)
        await client.flush()
        ready.set()
        await stopped.wait()
        await client.drain()

    event_loop.run(main())


@asynccontextmanager
async def nats_caller(url: str) -> AsyncIterator[CallOnce]:
    import nats

    client = await nats.connect(url)

    async def call(n: int) -> Any:
        reply = await client.request(NATS_SUBJECT, json_codec.dumps({"n": n}), timeout=10)
        return json_codec.loads(reply.data)["result"]

    try:
        yield call
    finally:
        await client.close()
