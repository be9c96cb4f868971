"""Several gateways sharing nothing but Redis: kill -9 of one under load.

Each gateway has its own reply list; every call carries its own request id
and user name, checked against the answer, so a reply delivered to the wrong
gateway (or the wrong call) would show as a mismatch or a 504.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable

import httpx
import pytest
from redis.asyncio import Redis

from bench.failover_load import FailoverLoad, statuses
from common.keys import Keys
from tests.conftest import RUN_ID, Servers
from tests.e2e.helpers import register
from tests.e2e.stack import Stack
from tests.prometheus import parse

pytestmark = pytest.mark.timeout(120)

ACCOUNTS = 10


def late_replies(scrape: str) -> float:
    families, samples = parse(scrape)
    assert "gatehouse_rpc_late_replies" in families
    return sum(v for (name, _), v in samples.items() if name == "gatehouse_rpc_late_replies_total")


async def test_kill_9_of_one_gateway_leaves_the_other_whole(
    stack_factory: Callable[..., Stack], servers: Servers
) -> None:
    stack = stack_factory(RPC_TIMEOUT="2")
    stack.start("user")
    stack.start("auth")
    victim = stack.start("gateway")
    survivor = stack.start("gateway")
    stack.wait_for_instances("gateway", 2)
    stack.wait_for_instances("user", 1)
    stack.wait_for_instances("auth", 1)
    stem = f"gwk{RUN_ID}"
    accounts = [f"{stem}acct{i}" for i in range(ACCOUNTS)]
    async with httpx.AsyncClient(base_url=survivor.url, timeout=10) as client:
        for name in accounts:
            assert (await register(client, name)).status_code == 201
        victim_id = (await client.get(f"{victim.url}/health")).json()["instance"]

    load = FailoverLoad(
        [victim.url, survivor.url], f"{stem}new", accounts, registrations=300, logins=300
    )
    load.milestone = 100
    running = asyncio.create_task(load.run())
    await load.reached.wait()
    victim.signal(signal.SIGKILL)
    killed = time.monotonic()
    calls = await running

    through_survivor = [c for c in calls if c.gateway == survivor.url]
    after_kill = [c for c in calls if c.gateway == victim.url and c.started > killed + 0.1]
    print(
        f"\ngateway kill -9: {len(calls)} calls, survivor {dict(statuses(through_survivor))}, "
        f"victim {dict(statuses([c for c in calls if c.gateway == victim.url]))}"
    )
    assert victim.wait(5) == -signal.SIGKILL
    assert after_kill, "calls were still sent to the dead gateway"
    assert set(statuses(through_survivor)) <= {200, 201}, "the survivor's calls all succeed"
    assert not [c for c in calls if c.mismatched], "an answer named another call"
    async with httpx.AsyncClient(base_url=survivor.url, timeout=10) as client:
        assert late_replies((await client.get("/metrics")).text) == 0

    # Nothing of the dead gateway stays behind: its entry and its reply list go.
    keys = Keys(stack.prefix)
    async with Redis.from_url(servers.redis_url) as redis:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            listed = await redis.zscore(keys.instances("gateway"), victim_id)
            if listed is None and not await redis.exists(keys.reply_queue(victim_id)):
                break
            await asyncio.sleep(0.2)
        assert await redis.zscore(keys.instances("gateway"), victim_id) is None
        assert not await redis.exists(keys.reply_queue(victim_id))
