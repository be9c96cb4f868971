"""RpcClient and RpcServer in one process, against real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import pytest
from marshmallow import Schema
from redis.asyncio import Redis

from common.accounts.schemas import RegisterParams
from common.context import deadline_var
from common.errors import (
    BadRequest,
    Conflict,
    DeadlineExceeded,
    InvalidToken,
    NoResponders,
    Overloaded,
    RemoteError,
    UnknownMethod,
    ValidationFailed,
)
from common.keys import Keys
from common.redis_client import blocking_client, command_client
from common.rpc.client import REPLY_BLOCK_SECONDS, RpcClient, SessionGuard, SessionUnknown
from common.rpc.message import Reply, Request, now_ms
from common.rpc.registry import Recovery, Registry
from common.rpc.server import TAKE_BLOCK_SECONDS, Method, RpcServer
from tests.conftest import Servers

SERVICE = "svc"
HEARTBEAT_TTL = 30.0


async def eventually(check: Callable[[], bool | Awaitable[bool]], *, within: float = 5.0) -> None:
    """Wait until ``check`` holds; fail (not hang) if it never does."""

    async def poll() -> None:
        while True:
            outcome = check()
            if inspect.isawaitable(outcome):
                outcome = await outcome
            if outcome:
                return
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), within)


async def list_length_is(redis: Redis, key: str, length: int) -> bool:
    return int(await redis.llen(key)) == length


class Harness:
    """Builds clients and servers the way the gateway and the workers do."""

    def __init__(self, servers: Servers, keys: Keys) -> None:
        self.url = servers.redis_url
        self.keys = keys
        self.redis = command_client(self.url)
        self.registry = Registry(self.redis, keys, ttl=HEARTBEAT_TTL)
        self._clients: list[RpcClient] = []
        self._servers: list[tuple[RpcServer, asyncio.Task[None], Redis]] = []
        self._blocking: list[Redis] = []

    async def client(
        self,
        *,
        default_timeout: float = 5.0,
        max_inflight: int = 1000,
        max_queue_length: int = 10_000,
        instance: str | None = None,
    ) -> RpcClient:
        blocking = blocking_client(self.url, block_seconds=REPLY_BLOCK_SECONDS)
        self._blocking.append(blocking)
        client = RpcClient(
            self.redis,
            blocking,
            self.keys,
            self.registry,
            instance or f"gw-{uuid.uuid4().hex[:8]}",
            default_timeout=default_timeout,
            max_inflight=max_inflight,
            max_queue_length=max_queue_length,
        )
        await client.start()
        self._clients.append(client)
        return client

    async def register(self, instance: str, service: str = SERVICE) -> None:
        await self.registry.heartbeat(service, instance, {"test": True})

    async def server(
        self,
        methods: Mapping[str, Method],
        *,
        instance: str = "svc-1",
        concurrency: int = 64,
    ) -> tuple[RpcServer, asyncio.Task[None]]:
        blocking = blocking_client(self.url, block_seconds=TAKE_BLOCK_SECONDS)
        server = RpcServer(
            self.redis,
            blocking,
            self.keys,
            SERVICE,
            instance,
            methods,
            concurrency=concurrency,
        )
        await self.register(instance)
        task = asyncio.create_task(server.run())
        self._servers.append((server, task, blocking))
        return server, task

    async def wake_servers(self) -> None:
        """End a waiting blocking take at once with a request nobody waits for.

        A stopped server otherwise notices only when its take times out.
        """
        for _ in self._servers:
            expired = Request(method="svc.wake", params={}, reply_to="nobody", deadline=0)
            await self.redis.lpush(self.keys.request_queue(SERVICE), expired.encode())

    async def close(self) -> None:
        for server, _, _ in self._servers:
            server.stop()
        if self._servers:
            await self.wake_servers()
        for _, task, blocking in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, TAKE_BLOCK_SECONDS + 5)
            await blocking.aclose()
        for client in self._clients:
            await client.close()
        for blocking in self._blocking:
            await blocking.aclose()
        await self.redis.aclose()


async def stop_reader(client: RpcClient) -> None:
    """Cancel the reply reader until it really stops, so that a close() that
    hangs fails its test instead of hanging the suite."""
    reader = client._reader
    while reader is not None and not reader.done():
        reader.cancel()
        await asyncio.wait({reader}, timeout=0.05)


@pytest.fixture
async def harness(servers: Servers, keys: Keys, redis: Redis) -> AsyncIterator[Harness]:
    # ``redis`` deletes this test's keys afterwards.
    rig = Harness(servers, keys)
    yield rig
    await rig.close()


class Recorder:
    """Handlers that remember what they ran."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def echo(self, params: dict[str, Any], request: Request) -> Any:
        self.seen.append(params)
        await self.gate.wait()
        return {"echo": params, "method": request.method}

    async def double(self, params: dict[str, Any], request: Request) -> Any:
        await asyncio.sleep(params.get("delay", 0))
        return params["n"] * 2

    async def conflict(self, params: dict[str, Any], request: Request) -> Any:
        raise Conflict("Username already exists", {"username": ["taken"]})

    async def crash(self, params: dict[str, Any], request: Request) -> Any:
        raise ZeroDivisionError("secret internals")

    async def register(self, params: dict[str, Any], request: Request) -> Any:
        self.seen.append(params)
        return {"email": params["email"]}

    def methods(self, **extra: Method) -> dict[str, Method]:
        schema: Schema = RegisterParams()
        return {
            "svc.echo": Method(self.echo),
            "svc.double": Method(self.double),
            "svc.conflict": Method(self.conflict),
            "svc.crash": Method(self.crash),
            "svc.register": Method(self.register, schema),
            **extra,
        }


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


async def test_a_call_returns_the_result(harness: Harness, recorder: Recorder) -> None:
    await harness.server(recorder.methods())
    client = await harness.client()

    result = await client.call("svc.echo", {"x": 1})

    assert result == {"echo": {"x": 1}, "method": "svc.echo"}
    assert client.stats.get("svc.echo", "calls") == 1
    assert client.inflight == 0


async def test_many_concurrent_calls_are_answered_by_id(
    harness: Harness, recorder: Recorder
) -> None:
    server, _ = await harness.server(recorder.methods(), concurrency=32)
    client = await harness.client()

    # Uneven handler times, so replies come back in another order than requests.
    calls = [client.call("svc.double", {"n": n, "delay": (n * 37 % 11) / 1000}) for n in range(200)]
    results = await asyncio.gather(*calls)

    assert results == [n * 2 for n in range(200)]
    assert client.inflight == 0
    assert server.stats.get("svc.double", "ok") == 200


async def test_calls_are_spread_over_instances(harness: Harness, recorder: Recorder) -> None:
    first, _ = await harness.server(recorder.methods(), instance="svc-a", concurrency=4)
    second, _ = await harness.server(recorder.methods(), instance="svc-b", concurrency=4)
    client = await harness.client()
    recorder.gate.clear()

    calls = [asyncio.create_task(client.call("svc.echo", {"n": n})) for n in range(8)]
    # Each instance takes at most its concurrency, so the other must take the rest.
    await eventually(lambda: len(recorder.seen) == 8)
    assert (first.inflight, second.inflight) == (4, 4)
    recorder.gate.set()

    assert [r["echo"]["n"] for r in await asyncio.gather(*calls)] == list(range(8))


async def test_a_handler_error_reaches_the_caller(harness: Harness, recorder: Recorder) -> None:
    await harness.server(recorder.methods())
    client = await harness.client()

    with pytest.raises(Conflict) as raised:
        await client.call("svc.conflict", {})

    assert raised.value.message == "Username already exists"
    assert raised.value.details == {"username": ["taken"]}
    assert client.stats.errors("svc.conflict") == {"conflict": 1}


async def test_a_handler_crash_is_a_remote_error_and_the_server_keeps_serving(
    harness: Harness, recorder: Recorder
) -> None:
    server, task = await harness.server(recorder.methods())
    client = await harness.client()

    with pytest.raises(RemoteError) as raised:
        await client.call("svc.crash", {})

    assert raised.value.code == "internal_error"
    assert "secret internals" not in raised.value.message
    assert server.stats.errors("svc.crash") == {"internal_error": 1}
    assert await client.call("svc.double", {"n": 21}) == 42
    assert not task.done()


async def test_params_are_validated_by_the_method_schema(
    harness: Harness, recorder: Recorder
) -> None:
    await harness.server(recorder.methods())
    client = await harness.client()

    with pytest.raises(ValidationFailed) as raised:
        await client.call("svc.register", {"username": "x", "email": "nope", "password": "p"})

    assert set(raised.value.details) == {"username", "email", "password"}
    assert recorder.seen == []


async def test_the_handler_gets_the_loaded_params(harness: Harness, recorder: Recorder) -> None:
    await harness.server(recorder.methods())
    client = await harness.client()

    params = {"username": "ada", "email": " Ada@Example.COM", "password": "engine1843", "x": 1}
    result = await client.call("svc.register", params)

    assert result == {"email": "ada@example.com"}
    assert recorder.seen == [
        {"username": "ada", "email": "ada@example.com", "password": "engine1843"}
    ]


async def test_an_unknown_method(harness: Harness, recorder: Recorder) -> None:
    server, _ = await harness.server(recorder.methods())
    client = await harness.client()

    with pytest.raises(UnknownMethod, match=r"svc\.nothing"):
        await client.call("svc.nothing", {})
    # Counted under one shared label, so unknown names cannot grow the metrics.
    assert server.stats.errors("unknown") == {"unknown_method": 1}
    assert server.stats.get("svc.nothing", "calls") == 0


async def test_no_registered_instance_raises_no_responders_at_once(harness: Harness) -> None:
    client = await harness.client(default_timeout=30)

    # With a 30 s timeout, anything but an immediate answer would be DeadlineExceeded
    # or the test's own timeout.
    with pytest.raises(NoResponders):
        await client.call("ghost.anything", {})

    assert await harness.redis.llen(harness.keys.request_queue("ghost")) == 0
    assert client.stats.errors("ghost.anything") == {"no_responders": 1}


async def test_an_expired_instance_does_not_count_as_a_responder(harness: Harness) -> None:
    await harness.redis.zadd(harness.keys.instances("stale"), {"stale-1": now_ms() - 1000})
    client = await harness.client(default_timeout=30)

    with pytest.raises(NoResponders):
        await client.call("stale.anything", {})


async def test_a_slow_handler_gives_deadline_exceeded_and_sends_no_late_reply(
    harness: Harness, recorder: Recorder
) -> None:
    release = asyncio.Event()
    finished = asyncio.Event()

    async def slow(params: dict[str, Any], request: Request) -> Any:
        await release.wait()
        finished.set()
        return "late"

    server, _ = await harness.server(recorder.methods(**{"svc.slow": Method(slow)}))
    client = await harness.client()

    with pytest.raises(DeadlineExceeded):
        await client.call("svc.slow", {}, timeout=0.2)
    assert client.stats.get("svc.slow", "timeouts") == 1
    assert client.inflight == 0

    release.set()
    await asyncio.wait_for(finished.wait(), 5)
    processing = harness.keys.processing(SERVICE, "svc-1")
    await eventually(lambda: list_length_is(harness.redis, processing, 0))

    # The server does not answer a caller that has given up.
    assert await harness.redis.llen(client.reply_to) == 0
    assert await client.call("svc.double", {"n": 5}) == 10
    assert client.stats.get("-", "late_replies") == 0
    assert server.stats.get("svc.slow", "ok") == 1


async def test_a_late_reply_is_counted_and_not_delivered_to_a_later_call(
    harness: Harness, recorder: Recorder
) -> None:
    release = asyncio.Event()

    async def slow_with_a_lagging_clock(params: dict[str, Any], request: Request) -> Any:
        # A worker whose clock runs behind the caller's still thinks there is time
        # left, so its reply arrives after the caller has given up.
        request.deadline += 60_000
        await release.wait()
        return "late"

    await harness.server(recorder.methods(**{"svc.slow": Method(slow_with_a_lagging_clock)}))
    client = await harness.client()

    with pytest.raises(DeadlineExceeded):
        await client.call("svc.slow", {}, timeout=0.2)
    release.set()
    await eventually(lambda: client.stats.get("svc.slow", "late_replies") == 1)

    assert await client.call("svc.echo", {"after": True}) == {
        "echo": {"after": True},
        "method": "svc.echo",
    }
    assert client.stats.get("svc.slow", "late_replies") == 1


async def test_a_stray_reply_is_counted_as_late(harness: Harness) -> None:
    client = await harness.client()

    await harness.redis.lpush(client.reply_to, Reply.success("nobody-waits", 1).encode())

    await eventually(lambda: client.stats.get("-", "late_replies") == 1)


async def test_a_malformed_reply_is_counted_and_dropped(
    harness: Harness, recorder: Recorder
) -> None:
    await harness.server(recorder.methods())
    client = await harness.client()

    await harness.redis.lpush(client.reply_to, b"{not a reply")
    await eventually(lambda: client.stats.get("-", "malformed") == 1)

    assert await client.call("svc.double", {"n": 1}) == 2


async def test_a_request_past_its_deadline_is_dropped_unrun(
    harness: Harness, recorder: Recorder
) -> None:
    server, _ = await harness.server(recorder.methods())
    reply_to = harness.keys.reply_queue("by-hand")
    expired = Request(method="svc.echo", params={"x": 1}, reply_to=reply_to, deadline=now_ms() - 1)

    await harness.redis.lpush(harness.keys.request_queue(SERVICE), expired.encode())
    await eventually(lambda: server.stats.get("svc.echo", "dropped_expired") == 1)

    processing = harness.keys.processing(SERVICE, "svc-1")
    await eventually(lambda: list_length_is(harness.redis, processing, 0))
    assert recorder.seen == []
    assert await harness.redis.llen(reply_to) == 0
    assert server.stats.get("svc.echo", "calls") == 0


@pytest.mark.parametrize(
    "garbage",
    [b"garbage", b"[1,2,3]", b'{"v": 1, "id": "x"}', b'{"v": 9, "id": "x", "method": "svc.echo"}'],
)
async def test_garbage_on_the_queue_is_dropped_and_the_server_keeps_serving(
    harness: Harness, recorder: Recorder, garbage: bytes
) -> None:
    server, task = await harness.server(recorder.methods())
    client = await harness.client()

    await harness.redis.lpush(harness.keys.request_queue(SERVICE), garbage)
    await eventually(lambda: server.stats.get("-", "malformed") == 1)

    assert await client.call("svc.double", {"n": 4}) == 8
    processing = harness.keys.processing(SERVICE, "svc-1")
    await eventually(lambda: list_length_is(harness.redis, processing, 0))
    assert recorder.seen == []
    assert not task.done()


async def test_the_processing_list_is_empty_after_replies(
    harness: Harness, recorder: Recorder
) -> None:
    await harness.server(recorder.methods())
    client = await harness.client()

    await asyncio.gather(*(client.call("svc.double", {"n": n}) for n in range(20)))

    # The reply and the removal go out in one pipeline: no wait is needed.
    assert await harness.redis.llen(harness.keys.processing(SERVICE, "svc-1")) == 0
    assert await harness.redis.llen(harness.keys.request_queue(SERVICE)) == 0


async def test_a_request_in_flight_sits_in_the_processing_list(
    harness: Harness, recorder: Recorder
) -> None:
    await harness.server(recorder.methods())
    client = await harness.client()
    recorder.gate.clear()

    call = asyncio.create_task(client.call("svc.echo", {"held": True}))
    await eventually(lambda: len(recorder.seen) == 1)
    [raw] = await harness.redis.lrange(harness.keys.processing(SERVICE, "svc-1"), 0, -1)
    recorder.gate.set()

    assert Request.decode(raw).params == {"held": True}
    assert (await call)["echo"] == {"held": True}


async def test_stop_finishes_calls_in_flight_before_run_returns(
    harness: Harness, recorder: Recorder
) -> None:
    server, task = await harness.server(recorder.methods())
    client = await harness.client()
    recorder.gate.clear()
    calls = [asyncio.create_task(client.call("svc.echo", {"n": n})) for n in range(5)]
    await eventually(lambda: server.inflight == 5)

    server.stop()
    await harness.wake_servers()
    await asyncio.sleep(0.2)
    assert not task.done()
    assert not any(call.done() for call in calls)

    recorder.gate.set()
    await asyncio.wait_for(task, 5)
    results = await asyncio.gather(*calls)

    assert [r["echo"]["n"] for r in results] == list(range(5))
    assert server.inflight == 0
    assert await harness.redis.llen(harness.keys.processing(SERVICE, "svc-1")) == 0


async def test_a_stopped_server_takes_no_new_requests(harness: Harness, recorder: Recorder) -> None:
    server, task = await harness.server(recorder.methods())
    server.stop()
    await harness.wake_servers()
    await asyncio.wait_for(task, TAKE_BLOCK_SECONDS + 5)
    await harness.redis.delete(harness.keys.request_queue(SERVICE))
    client = await harness.client()

    with pytest.raises(DeadlineExceeded):
        await client.call("svc.echo", {}, timeout=0.2)

    assert recorder.seen == []
    assert await harness.redis.llen(harness.keys.request_queue(SERVICE)) == 1


async def test_a_full_queue_is_overloaded(harness: Harness) -> None:
    await harness.register("svc-idle")  # registered, but nothing takes requests
    client = await harness.client(max_queue_length=2)
    queue = harness.keys.request_queue(SERVICE)
    waiting = [asyncio.create_task(client.call("svc.echo", {"n": n})) for n in range(2)]
    await eventually(lambda: list_length_is(harness.redis, queue, 2))

    with pytest.raises(Overloaded, match="queue is full"):
        await client.call("svc.echo", {"n": 3})

    assert await harness.redis.llen(queue) == 2
    for call in waiting:
        call.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    assert client.inflight == 0


async def test_a_full_queue_is_counted_in_the_client_stats(harness: Harness) -> None:
    await harness.register("svc-idle")
    client = await harness.client(max_queue_length=0)

    with pytest.raises(Overloaded):
        await client.call("svc.echo", {})

    assert client.stats.errors("svc.echo") == {"overloaded": 1}


async def test_too_many_calls_in_flight_is_overloaded(harness: Harness) -> None:
    await harness.register("svc-idle")
    client = await harness.client(max_inflight=2)
    queue = harness.keys.request_queue(SERVICE)
    waiting = [asyncio.create_task(client.call("svc.echo", {"n": n})) for n in range(2)]
    await eventually(lambda: list_length_is(harness.redis, queue, 2))

    with pytest.raises(Overloaded):
        await client.call("svc.echo", {"n": 3})

    assert await harness.redis.llen(queue) == 2
    for call in waiting:
        call.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    assert client.inflight == 0


async def test_a_nested_call_past_the_inherited_deadline_fails_without_a_round_trip(
    harness: Harness,
) -> None:
    await harness.register("svc-idle")
    client = await harness.client(default_timeout=30)
    token = deadline_var.set(now_ms() - 1)
    try:
        with pytest.raises(DeadlineExceeded):
            await client.call("svc.echo", {})
    finally:
        deadline_var.reset(token)

    assert client.stats.get("svc.echo", "timeouts") == 1
    assert await harness.redis.llen(harness.keys.request_queue(SERVICE)) == 0


async def test_a_nested_call_carries_the_inherited_deadline(harness: Harness) -> None:
    await harness.register("svc-idle")
    client = await harness.client(default_timeout=30)
    inherited = now_ms() + 300
    token = deadline_var.set(inherited)
    try:
        with pytest.raises(DeadlineExceeded):
            await client.call("svc.echo", {})
    finally:
        deadline_var.reset(token)

    [raw] = await harness.redis.lrange(harness.keys.request_queue(SERVICE), 0, -1)
    assert Request.decode(raw).deadline == inherited


async def test_a_shorter_own_timeout_wins_over_the_inherited_deadline(harness: Harness) -> None:
    await harness.register("svc-idle")
    client = await harness.client(default_timeout=30)
    inherited = now_ms() + 60_000
    token = deadline_var.set(inherited)
    try:
        with pytest.raises(DeadlineExceeded):
            await client.call("svc.echo", {}, timeout=0.2)
    finally:
        deadline_var.reset(token)

    [raw] = await harness.redis.lrange(harness.keys.request_queue(SERVICE), 0, -1)
    assert Request.decode(raw).deadline < inherited - 50_000


async def test_a_handler_runs_with_the_request_deadline_in_context(
    harness: Harness, recorder: Recorder
) -> None:
    async def report(params: dict[str, Any], request: Request) -> Any:
        return {"context": deadline_var.get(), "message": request.deadline}

    await harness.server(recorder.methods(**{"svc.report": Method(report)}))
    client = await harness.client()

    seen = await client.call("svc.report", {})

    assert seen["context"] == seen["message"]


def _request(deadline: int, **params: Any) -> bytes:
    return Request(method="svc.echo", params=params, reply_to="nobody", deadline=deadline).encode()


async def test_recover_dead_requeues_a_dead_instances_work(harness: Harness) -> None:
    keys, redis = harness.keys, harness.redis
    processing = keys.processing(SERVICE, "dead-1")
    queue = keys.request_queue(SERVICE)
    live = [_request(now_ms() + 60_000, n=n) for n in range(3)]
    expired = _request(now_ms() - 1000, n=99)
    await redis.lpush(queue, _request(now_ms() + 60_000, n="already-queued"))
    # As TAKE_BATCH leaves them: oldest taken at the right of the processing list.
    await redis.lpush(processing, live[0], expired, live[1], b"garbage", live[2])
    await redis.zadd(keys.instances(SERVICE), {"dead-1": now_ms() - 1000})
    await redis.set(keys.instance_info(SERVICE, "dead-1"), b"{}")

    recoveries = await harness.registry.recover_dead(SERVICE)

    assert recoveries == [
        Recovery("dead-1", requeued={"svc.echo": 3}, expired={"svc.echo": 1, "-": 1})
    ]
    assert await redis.exists(processing) == 0
    assert await redis.zscore(keys.instances(SERVICE), "dead-1") is None
    assert await redis.exists(keys.instance_info(SERVICE, "dead-1")) == 0
    # Recovered work goes to the consuming end, oldest first, ahead of the queue.
    taken = [await redis.rpop(queue) for _ in range(4)]
    assert taken[:3] == live
    assert Request.decode(taken[3]).params == {"n": "already-queued"}


async def test_recover_dead_leaves_a_live_instance_alone(harness: Harness) -> None:
    keys, redis = harness.keys, harness.redis
    processing = keys.processing(SERVICE, "live-1")
    await redis.lpush(processing, _request(now_ms() + 60_000, n=1))
    await harness.register("live-1")

    assert await harness.registry.recover_dead(SERVICE) == []

    assert await redis.llen(processing) == 1
    assert await redis.llen(keys.request_queue(SERVICE)) == 0
    assert await harness.registry.live_count(SERVICE) == 1


async def test_recovered_work_is_answered_to_the_waiting_caller(
    harness: Harness, recorder: Recorder
) -> None:
    keys, redis = harness.keys, harness.redis
    await harness.register("doomed-1")
    client = await harness.client()
    call = asyncio.create_task(client.call("svc.echo", {"orphan": True}))
    await eventually(lambda: list_length_is(redis, keys.request_queue(SERVICE), 1))
    # The doomed instance takes the request, as TAKE_BATCH would, then dies.
    await redis.lmove(
        keys.request_queue(SERVICE), keys.processing(SERVICE, "doomed-1"), "RIGHT", "LEFT"
    )
    await redis.zadd(keys.instances(SERVICE), {"doomed-1": now_ms() - 1})
    await harness.server(recorder.methods())

    assert await harness.registry.recover_dead(SERVICE) == [
        Recovery("doomed-1", {"svc.echo": 1}, {})
    ]
    assert await call == {"echo": {"orphan": True}, "method": "svc.echo"}


async def test_registry_heartbeat_count_and_leave(harness: Harness) -> None:
    await harness.register("svc-a")
    await harness.register("svc-b")
    await harness.register("other-a", service="other")

    assert await harness.registry.live_count(SERVICE) == 2
    instances = await harness.registry.live_instances()
    assert sorted(i["instance"] for i in instances[SERVICE]) == ["svc-a", "svc-b"]
    assert all(i["test"] is True for i in instances[SERVICE])
    assert [i["instance"] for i in instances["other"]] == ["other-a"]

    await harness.registry.leave(SERVICE, "svc-a")

    assert await harness.registry.live_count(SERVICE) == 1


async def test_close_returns_even_right_after_start(harness: Harness, redis: Redis) -> None:
    # The race needs the cancel to land while the reader is sending a command
    # (its connection handshake or BLMPOP); a few round trips on another
    # connection between start and close hit that most of the time.
    for attempt in range(40):
        blocking = blocking_client(harness.url, block_seconds=REPLY_BLOCK_SECONDS)
        client = RpcClient(
            harness.redis,
            blocking,
            harness.keys,
            harness.registry,
            "gw-closing",
            default_timeout=5,
            max_inflight=10,
            max_queue_length=10,
        )
        await client.start()
        for _ in range(1 + attempt % 4):
            await redis.ping()
        closing = asyncio.create_task(client.close())
        try:
            # Generous: a close that works takes about a millisecond.
            done, _ = await asyncio.wait({closing}, timeout=REPLY_BLOCK_SECONDS * 1.5)
        finally:
            await stop_reader(client)
            await closing
            await blocking.aclose()
        assert done, f"RpcClient.close() did not return (attempt {attempt})"


async def test_closing_a_command_client_closes_its_connections(
    harness: Harness, redis: Redis
) -> None:
    name = f"ghtest-close-{uuid.uuid4().hex[:8]}"
    separator = "&" if "?" in harness.url else "?"
    client = command_client(f"{harness.url}{separator}client_name={name}")
    try:
        await client.ping()
        assert name in {entry.get("name") for entry in await redis.client_list()}
        await client.aclose()
        # Redis drops a closed connection from its list when it reads the EOF,
        # which may come after our next command on another connection: wait
        # for it, boundedly (a connection left open stays in the list).
        for _ in range(100):
            still_open = name in {entry.get("name") for entry in await redis.client_list()}
            if not still_open:
                break
            await asyncio.sleep(0.02)
    finally:
        await client.connection_pool.disconnect()

    assert not still_open


def nested(depth: int) -> dict[str, Any]:
    """A value nested ``depth`` objects deep (orjson refuses past 254)."""
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize("poison", [nested(300), {"x": object()}], ids=["too-deep", "foreign"])
async def test_an_unencodable_call_fails_at_once_and_alone(
    harness: Harness, recorder: Recorder, poison: dict[str, Any]
) -> None:
    await harness.server(recorder.methods())
    client = await harness.client(default_timeout=10)

    started = asyncio.get_running_loop().time()
    outcomes = await asyncio.gather(
        *(client.call("svc.double", {"n": n}) for n in range(5)),
        client.call("svc.echo", poison),
        *(client.call("svc.double", {"n": n}) for n in range(5, 10)),
        return_exceptions=True,
    )

    assert isinstance(outcomes[5], BadRequest), outcomes[5]
    assert outcomes[:5] + outcomes[6:] == [n * 2 for n in range(10)]
    # Well before the 10 s deadline: nobody waited for a reply that could not come.
    assert asyncio.get_running_loop().time() - started < 5
    assert client.inflight == 0


async def test_an_unencodable_error_reply_becomes_a_plain_error(
    harness: Harness, recorder: Recorder
) -> None:
    async def odd_error(params: dict[str, Any], request: Request) -> Any:
        raise Conflict("odd", {"field": nested(300)})

    await harness.server(recorder.methods(**{"svc.odd": Method(odd_error)}))
    client = await harness.client()

    with pytest.raises(RemoteError):
        await client.call("svc.odd", {})
    assert await client.call("svc.double", {"n": 2}) == 4


async def test_a_reply_redis_refuses_fails_alone_in_its_batch(
    harness: Harness, recorder: Recorder, redis: Redis, keys: Keys
) -> None:
    server, _ = await harness.server(recorder.methods())
    client = await harness.client()
    # A reply list that is not a list: Redis refuses the LPUSH, and with it
    # the script that carries the whole batch of replies.
    poisoned_reply_to = f"{keys.prefix}:not-a-list"
    await redis.set(poisoned_reply_to, "x")
    stray = Request(
        method="svc.echo",
        params={"stray": True},
        reply_to=poisoned_reply_to,
        deadline=now_ms() + 10_000,
    )

    recorder.gate.clear()
    await redis.lpush(keys.request_queue(SERVICE), stray.encode())
    calls = [asyncio.ensure_future(client.call("svc.echo", {"n": n})) for n in range(5)]
    await eventually(lambda: len(recorder.seen) == 6)
    recorder.gate.set()  # all six replies now leave in one batch

    results = await asyncio.wait_for(asyncio.gather(*calls), 5)
    assert [r["echo"] for r in results] == [{"n": n} for n in range(5)]
    await eventually(lambda: list_length_is(redis, keys.processing(SERVICE, server.instance), 0))


# ----------------------------------------------------------------------------
# Guarded calls: pushed only while the caller's session is live (PUSH_GUARDED)


async def test_a_guarded_call_runs_while_its_session_is_the_users(
    harness: Harness, recorder: Recorder, redis: Redis
) -> None:
    await harness.server(recorder.methods())
    client = await harness.client()
    await redis.set(harness.keys.session(7), "42")

    result = await client.call("svc.echo", {"x": 1}, session=SessionGuard(7, 42))

    assert result["echo"] == {"x": 1}


@pytest.mark.parametrize(
    ("state", "raised"), [(b"0", InvalidToken), (b"43", InvalidToken), (None, SessionUnknown)]
)
async def test_a_guarded_call_of_an_ended_or_unknown_session_is_never_pushed(
    harness: Harness, recorder: Recorder, redis: Redis, state: bytes | None, raised: type[Exception]
) -> None:
    await harness.server(recorder.methods())
    client = await harness.client()
    if state is not None:
        await redis.set(harness.keys.session(7), state)

    with pytest.raises(raised):
        await client.call("svc.echo", {"x": 1}, session=SessionGuard(7, 42))

    assert recorder.seen == []
    assert await redis.llen(harness.keys.request_queue(SERVICE)) == 0


async def test_an_ended_session_fails_alone_in_its_batch(
    harness: Harness, recorder: Recorder, redis: Redis
) -> None:
    await harness.server(recorder.methods())
    client = await harness.client()
    await redis.set(harness.keys.session(1), "10")
    await redis.set(harness.keys.session(2), "0")

    # Made in one loop iteration, so they go out in one push.
    answers = await asyncio.gather(
        client.call("svc.echo", {"n": 1}, session=SessionGuard(1, 10)),
        client.call("svc.echo", {"n": 2}, session=SessionGuard(2, 20)),
        client.call("svc.echo", {"n": 3}),
        return_exceptions=True,
    )

    assert answers[0] == {"echo": {"n": 1}, "method": "svc.echo"}
    assert isinstance(answers[1], InvalidToken)
    assert answers[2] == {"echo": {"n": 3}, "method": "svc.echo"}
    assert sorted(params["n"] for params in recorder.seen) == [1, 3]


async def test_a_backlog_is_taken_oldest_first_up_to_the_free_room(
    harness: Harness, recorder: Recorder
) -> None:
    keys, redis = harness.keys, harness.redis
    queue, processing = keys.request_queue(SERVICE), keys.processing(SERVICE, "svc-1")
    # Five waiting before the server starts: its first take is the blocking move
    # of the oldest plus the script's batch behind it.
    await redis.lpush(queue, *(_request(now_ms() + 60_000, n=n) for n in range(5)))
    recorder.gate.clear()

    await harness.server(recorder.methods(), concurrency=3)

    await eventually(lambda: len(recorder.seen) == 3)
    assert recorder.seen == [{"n": 0}, {"n": 1}, {"n": 2}]
    # Taken means in the processing list (redelivered if this instance dies).
    assert sorted(
        Request.decode(raw).params["n"] for raw in await redis.lrange(processing, 0, -1)
    ) == [0, 1, 2]
    assert await redis.llen(queue) == 2
    recorder.gate.set()
    await eventually(lambda: len(recorder.seen) == 5)
    assert recorder.seen[3:] == [{"n": 3}, {"n": 4}]
    await eventually(lambda: list_length_is(redis, processing, 0))
