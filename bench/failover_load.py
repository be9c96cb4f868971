"""Registrations and logins through one or more gateways while something fails.

Every call carries its own X-Request-ID and a username of its own, and its
answer is checked against both: an answer meant for another call (a reply
delivered to the wrong gateway, or to the wrong waiting call) fails the run.
Each loop makes a bounded number of calls and slows down after a failure,
so an outage does not burn the whole budget in a second of fast 503s.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from itertools import zip_longest

import httpx

PASSWORD = "secret123"  # noqa: S105 - the load's own throwaway accounts
# After a failed call a loop waits this long, so an outage is sampled, not flooded.
PAUSE_AFTER_FAILURE = 0.2


@dataclass(frozen=True, slots=True)
class Call:
    kind: str  # "register" or "login"
    name: str
    gateway: str
    started: float
    ended: float
    status: int  # 0: no HTTP answer (connection refused or reset, or a client timeout)
    mismatched: bool  # the answer names another call's request id or user


@dataclass
class FailoverLoad:
    """``registrations`` and ``logins`` spread over ``gateways`` by ``loops`` tasks."""

    gateways: list[str]
    stem: str
    accounts: list[str]  # existing users the logins use (password PASSWORD)
    registrations: int = 500
    logins: int = 500
    loops: int = 8
    timeout: float = 30.0
    calls: list[Call] = field(default_factory=list)
    # Set once this many calls have answered: the moment to break something.
    milestone: int = 0
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> list[Call]:
        registrations = [("register", f"{self.stem}_{i}") for i in range(self.registrations)]
        logins = [("login", self.accounts[i % len(self.accounts)]) for i in range(self.logins)]
        # Interleaved, so that registrations and logins alike cross the failure.
        plan = [call for pair in zip_longest(registrations, logins) for call in pair if call]
        queue: asyncio.Queue[tuple[int, str, str]] = asyncio.Queue()
        for index, (kind, name) in enumerate(plan):
            queue.put_nowait((index, kind, name))
        limits = httpx.Limits(max_connections=self.loops * len(self.gateways))
        async with httpx.AsyncClient(timeout=self.timeout, limits=limits) as client:
            await asyncio.gather(*(self._loop(client, queue) for _ in range(self.loops)))
        return self.calls

    async def _loop(
        self, client: httpx.AsyncClient, queue: asyncio.Queue[tuple[int, str, str]]
    ) -> None:
        while not queue.empty():
            index, kind, name = queue.get_nowait()
            # Pairs (a registration, a login) take turns: every gateway gets both kinds.
            gateway = self.gateways[(index // 2) % len(self.gateways)]
            call = await self._call(client, gateway, kind, name)
            self.calls.append(call)
            if len(self.calls) >= self.milestone:
                self.reached.set()
            if call.status not in (200, 201):
                await asyncio.sleep(PAUSE_AFTER_FAILURE)

    async def _call(self, client: httpx.AsyncClient, gateway: str, kind: str, name: str) -> Call:
        request_id = uuid.uuid4().hex
        started = time.monotonic()
        body: dict[str, str] = {"username": name, "password": PASSWORD}
        if kind == "register":
            body["email"] = f"{name}@example.com"
        path = "/api/users/register" if kind == "register" else "/api/auth/login"
        try:
            response = await client.post(
                f"{gateway}{path}", json=body, headers={"X-Request-ID": request_id}
            )
        except httpx.TransportError:
            return Call(kind, name, gateway, started, time.monotonic(), 0, False)
        mismatched = response.headers.get("x-request-id") != request_id
        if response.status_code in (200, 201):
            mismatched |= response.json()["user"]["username"] != name
        return Call(
            kind, name, gateway, started, time.monotonic(), response.status_code, mismatched
        )


def statuses(calls: list[Call]) -> Counter[int]:
    return Counter(call.status for call in calls)


def outage_window(calls: list[Call], after: float) -> tuple[float, float] | None:
    """(first failed answer, first successful answer of a call made after it).

    Only answers after ``after`` count; calls in flight across the failure
    may still succeed after the first failure, so the recovery is the first
    success of a call that started once the failure was seen. None when no
    call failed. Times are ``time.monotonic()``.
    """
    ordered = sorted((call for call in calls if call.ended >= after), key=lambda c: c.ended)
    first_failure = next((c.ended for c in ordered if c.status not in (200, 201)), None)
    if first_failure is None:
        return None
    recovered = next(
        (c.ended for c in ordered if c.started > first_failure and c.status in (200, 201)),
        float("nan"),
    )
    return first_failure, recovered
