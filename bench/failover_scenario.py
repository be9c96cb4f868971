"""``gatehouse bench --scenario failover``: kill -9 of the Redis primary under load.

Starts a primary, a replica and three sentinels (Debian's redis-server and
redis-sentinel), a user and an auth worker and two gateways that find Redis
through the sentinels, in a scratch database. Registrations and logins run
through both gateways; after ``kill_after`` answers the primary is killed
with SIGKILL. Prints when the sentinels promoted the replica, the outage
window (first failed answer to the first successful answer of a call made
after it) and the requests lost: registrations answered 201 whose user is not
in PostgreSQL, which must be none.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from bench.failover_load import PASSWORD, FailoverLoad, outage_window, statuses
from bench.launcher import Launcher, free_port
from bench.scratch import scratch_database
from bench.sentinel_servers import SentinelTopology, missing_binaries

ACCOUNTS = 20


@dataclass(frozen=True)
class FailoverOptions:
    registrations: int = 500
    logins: int = 500
    kill_after: int = 150
    bcrypt_rounds: int = 4
    log_level: str = "WARNING"


def run_failover(options: FailoverOptions) -> int:
    """Run the scenario and print its figures; 1 if an acknowledged write was lost."""
    if missing := missing_binaries():
        print(
            f"gatehouse bench: failover needs {', '.join(missing)}"
            " (apt-get install redis-sentinel)",
            file=sys.stderr,
        )
        return 2
    with (
        scratch_database() as database_url,
        tempfile.TemporaryDirectory(prefix="gatehouse-failover-") as folder,
    ):
        topology = SentinelTopology(Path(folder) / "redis", free_port)
        launcher = Launcher({}, Path(folder))
        try:
            topology.start()
            # After start: the environment names the sentinels' ports.
            launcher.env = _env(database_url, topology, options)
            processes = [launcher.launch(name) for name in ("user", "auth", "gateway", "gateway")]
            launcher.wait_healthy(*processes)
            gateways = [f"http://127.0.0.1:{p.port}" for p in processes if p.name == "gateway"]
            return asyncio.run(_measure(gateways, database_url, topology, options))
        finally:
            launcher.stop()
            topology.stop()


def _env(database_url: str, topology: SentinelTopology, options: FailoverOptions) -> dict[str, str]:
    return {
        "APP_ENV": "development",
        "DATABASE_URL": database_url,
        **topology.env,
        "RPC_PREFIX": f"bench-failover-{uuid.uuid4().hex[:8]}",
        "JWT_SECRET": secrets.token_urlsafe(48),
        "BCRYPT_ROUNDS": str(options.bcrypt_rounds),
        "LOG_LEVEL": options.log_level,
        "RATE_LIMIT_REGISTER": "off",
        "RATE_LIMIT_LOGIN": "off",
        "LOGIN_MAX_FAILURES": "1000000",
    }


async def _measure(
    gateways: list[str], database_url: str, topology: SentinelTopology, options: FailoverOptions
) -> int:
    stem = f"fo{uuid.uuid4().hex[:6]}"
    accounts = [f"{stem}acct{i}" for i in range(ACCOUNTS)]
    async with httpx.AsyncClient(base_url=gateways[0], timeout=10) as client:
        for name in accounts:
            body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
            answer = await client.post("/api/users/register", json=body)
            answer.raise_for_status()
    load = FailoverLoad(
        gateways,
        f"{stem}new",
        accounts,
        registrations=options.registrations,
        logins=options.logins,
        milestone=options.kill_after,
    )
    running = asyncio.create_task(load.run())
    await load.reached.wait()
    old_primary = topology.primary.port
    topology.primary.kill()
    killed = time.monotonic()
    promoted = await asyncio.to_thread(_wait_promotion, topology, old_primary)
    calls = await running

    acknowledged = {c.name for c in calls if c.kind == "register" and c.status == 201}
    lost = acknowledged - set(await _usernames(database_url, f"{stem}new_"))
    window = outage_window(calls, killed)
    print(f"failover: {len(calls)} calls through {len(gateways)} gateways, kill -9 of the primary")
    print(f"  sentinels promoted the replica {promoted - killed:.2f} s after the kill")
    if window is None:
        print("  outage window: none (no call failed)")
    else:
        first_failed, first_ok = window
        print(
            f"  outage window: {first_ok - first_failed:.2f} s (first failed answer "
            f"+{first_failed - killed:.2f} s, first success of a later call "
            f"+{first_ok - killed:.2f} s after the kill)"
        )
    by_kind = {
        kind: dict(statuses([c for c in calls if c.kind == kind])) for kind in ("register", "login")
    }
    print(f"  answers: {by_kind}")
    print(f"  acknowledged registrations: {len(acknowledged)}, lost: {len(lost)}")
    bad = Counter(c.status for c in calls if c.status not in (200, 201, 503, 504))
    if bad:
        print(f"  unexpected answers: {dict(bad)}")
    return 1 if lost or bad else 0


def _wait_promotion(topology: SentinelTopology, old_primary: int) -> float:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        port = topology.master_port()
        if port is not None and port != old_primary:
            return time.monotonic()
        time.sleep(0.02)
    return float("nan")


async def _usernames(database_url: str, prefix: str) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT username FROM users WHERE username LIKE $1 || '%'", prefix)
    finally:
        await conn.close()
    return [row["username"] for row in rows]
