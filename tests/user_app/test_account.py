"""Account methods delivered twice (a worker died before replying): one effect, one answer."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from common.worker import WorkerContext
from tests.conftest import rpc_request
from tests.e2e.helpers import PASSWORD
from user_app.service import UserService
from user_app.verification import email_tokens


async def registered(ctx: WorkerContext, unique: Callable[[str], str]) -> int:
    service = UserService(ctx)
    name = unique("acct")
    params = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    answer = await service.register(params, rpc_request("user.register", params))
    user_id: int = answer["user"]["id"]
    return user_id


async def event_types(ctx: WorkerContext, user_id: int) -> list[str]:
    rows = await ctx.pool.fetch(
        "SELECT type FROM audit_events WHERE user_id = $1 ORDER BY id", user_id
    )
    return [row["type"] for row in rows]


async def email_of(ctx: WorkerContext, user_id: int) -> str:
    email: str = await ctx.pool.fetchval("SELECT email FROM users WHERE id = $1", user_id)
    return email


async def test_a_redelivered_update_answers_the_stored_reply(
    worker_context: WorkerContext, unique: Callable[[str], str]
):
    uid = await registered(worker_context, unique)
    handler = UserService(worker_context).methods()["user.update_profile"].handler
    params = {"user_id": uid, "session_id": 1, "email": f"{unique('moved')}@example.com"}
    request = rpc_request("user.update_profile", params)

    first = await handler(params, request)
    second = await handler(params, dataclasses.replace(request))

    assert first == second
    # The new address is only asked for: no user.updated until its link is followed.
    assert await event_types(worker_context, uid) == ["user.created", "user.email_change_requested"]


async def test_a_redelivered_verification_answers_the_stored_reply(
    worker_context: WorkerContext, unique: Callable[[str], str]
):
    uid = await registered(worker_context, unique)
    service = UserService(worker_context)
    # The token is only stored hashed: make a known one for the test.
    async with worker_context.pool.acquire() as conn:
        token = await email_tokens(worker_context).issue(
            conn, user_id=uid, email=await email_of(worker_context, uid), purpose="verify"
        )
    handler = service.methods()["user.verify_email"].handler
    request = rpc_request("user.verify_email", {"token": token})

    first = await handler({"token": token}, request)
    second = await handler({"token": token}, dataclasses.replace(request))

    assert first == second
    assert first["user"]["email_verified"] is True
    assert (await event_types(worker_context, uid)).count("user.email_verified") == 1


async def test_a_redelivered_delete_answers_the_stored_reply(
    worker_context: WorkerContext, unique: Callable[[str], str]
):
    uid = await registered(worker_context, unique)
    handler = UserService(worker_context).methods()["user.delete"].handler
    params = {"user_id": uid, "session_id": 1, "password": PASSWORD}
    request = rpc_request("user.delete", params)

    first = await handler(params, request)
    # The user is gone: only the stored reply can answer this one.
    second = await handler(params, dataclasses.replace(request))

    assert first == second == {"sessions_ended": 0}
    assert await event_types(worker_context, uid) == ["user.created", "user.deleted"]
    assert await worker_context.pool.fetchval("SELECT count(*) FROM users WHERE id = $1", uid) == 0


async def test_audit_rows_carry_the_callers_origin(
    worker_context: WorkerContext, unique: Callable[[str], str]
):
    uid = await registered(worker_context, unique)
    row = await worker_context.pool.fetchrow(
        "SELECT ip, user_agent, request_id FROM audit_events WHERE user_id = $1", uid
    )
    assert row is not None
    assert row["ip"] == "192.0.2.7"
    assert row["user_agent"] is None
    assert len(row["request_id"]) == 32
