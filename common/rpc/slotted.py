"""The multi-key scripts, called so that the keys of each call share a slot.

On a single Redis each of PUSH_GUARDED and REPLY_AND_ACKNOWLEDGE is one call
touching keys that belong to different owners (a queue and the sessions of
the callers; a processing list and the reply lists of several gateways). A
Redis Cluster refuses such a call (CROSSSLOT), so there each is split into
calls whose keys share one hash tag, run in the order that keeps the
guarantees that matter:

- push: the sessions are read first (one GET each, batched per node), then
  the live ones are pushed. A session ended before the call started is still
  refused; one ended *between* the read and the push lets that one call,
  made concurrently with the logout, through (the single-Redis script closes
  that window, a cluster cannot without putting every session in one slot).
- reply: the replies are pushed first, then the requests acknowledged. A
  worker dying in between leaves requests that a survivor redelivers; the
  handlers are exactly-once per message id (``run_once``) and the caller
  drops the second reply by id, so nothing runs twice.

The ``*_key_groups`` functions say which keys each call declares; the calls
below use them, and so does the start-up check in ``common/rpc/slots.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from common.replication import ConfirmedScript

# PUSH_GUARDED's statuses: pushed, session ended (or another user's), unknown.
PUSHED, SESSION_ENDED, SESSION_UNKNOWN = 1, 0, 2

Guard = tuple[str, str]
"""(the user id a session key must hold, or '' for an unguarded item; that key)."""


def push_key_groups(queue: str, guards: Sequence[Guard], *, cluster: bool) -> list[list[str]]:
    """The keys of each PUSH_GUARDED call for one batch: one call, or on a cluster
    one call on the queue alone (the session keys are read one by one before it)."""
    if cluster:
        return [[queue] * (1 + len(guards))]
    return [[queue, *(key for _, key in guards)]]


def reply_key_groups(
    processing: str, reply_lists: Sequence[str], *, cluster: bool
) -> list[list[str]]:
    """The keys of each REPLY_AND_ACKNOWLEDGE call: one, or on a cluster one per
    reply list (its replies) and then one on the processing list (the acks)."""
    if not cluster:
        return [[processing, *reply_lists]]
    by_list = {reply_list: reply_lists.count(reply_list) for reply_list in reply_lists}
    return [[reply_list] * (1 + count) for reply_list, count in by_list.items()] + [[processing]]


# A registered script, or the same behind a replica's confirmation (Sentinel).
Script = AsyncScript | ConfirmedScript


async def push_guarded(
    script: Script,
    redis: Redis,
    queue: str,
    guards: Sequence[Guard],
    payloads: Sequence[bytes],
    *,
    max_length: int,
    cluster: bool,
) -> list[int]:
    """PUSH_GUARDED's answer for a batch: [queue length (-1 refused, 0 none), status...]."""
    if not cluster:
        (keys,) = push_key_groups(queue, guards, cluster=False)
        answer = await script(
            keys=keys, args=[max_length, *(expected for expected, _ in guards), *payloads]
        )
        return [int(value) for value in answer]
    statuses = await _session_statuses(redis, guards)
    accepted = [
        payload for payload, status in zip(payloads, statuses, strict=True) if status == PUSHED
    ]
    length = 0
    if accepted:
        (keys,) = push_key_groups(queue, [("", queue)] * len(accepted), cluster=True)
        answer = await script(keys=keys, args=[max_length, *([""] * len(accepted)), *accepted])
        length = int(answer[0])
    return [length, *statuses]


async def _session_statuses(redis: Redis, guards: Sequence[Guard]) -> list[int]:
    guarded = [(index, expected, key) for index, (expected, key) in enumerate(guards) if expected]
    statuses = [PUSHED] * len(guards)
    if not guarded:
        return statuses
    async with redis.pipeline(transaction=False) as pipe:
        for _, _, key in guarded:
            pipe.get(key)
        states = await pipe.execute()
    for (index, expected, _), state in zip(guarded, states, strict=True):
        if state is None:
            statuses[index] = SESSION_UNKNOWN
        elif state.decode() != expected:
            statuses[index] = SESSION_ENDED
    return statuses


async def reply_and_acknowledge(
    script: Script,
    processing: str,
    reply_lists: Sequence[str],
    replies: Sequence[bytes],
    raw_requests: Sequence[bytes],
    *,
    ttl_ms: int,
    cluster: bool,
) -> None:
    """Push each reply to its list (b'' = skip) and take its request off ``processing``."""
    if not cluster:
        (keys,) = reply_key_groups(processing, reply_lists, cluster=False)
        await script(keys=keys, args=[ttl_ms, *replies, *raw_requests])
        return
    by_list: dict[str, list[bytes]] = {}
    for reply_list, reply in zip(reply_lists, replies, strict=True):
        by_list.setdefault(reply_list, []).append(reply)
    *push_groups, (acknowledge,) = reply_key_groups(processing, reply_lists, cluster=True)
    pushes: list[Any] = [
        script(keys=keys, args=[ttl_ms, *batch])
        for keys, batch in zip(push_groups, by_list.values(), strict=True)
    ]
    await asyncio.gather(*pushes)
    await script(keys=[acknowledge], args=[ttl_ms, *raw_requests])
