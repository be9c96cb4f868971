"""Auth methods delivered twice (a worker died before replying): one effect, one answer."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from auth_app.reset import password_fingerprint
from auth_app.service import AuthService
from common.security.opaque_tokens import new_token, token_hash
from common.worker import WorkerContext
from tests.conftest import rpc_request
from tests.e2e.helpers import PASSWORD


async def account(
    ctx: WorkerContext, service: AuthService, unique: Callable[[str], str]
) -> dict[str, Any]:
    """A new user, logged in: the login answer."""
    name = unique("redeliver")
    async with ctx.pool.acquire() as conn:
        await ctx.queries.one(
            conn,
            "insert_user",
            username=name,
            email=f"{name}@example.com",
            password_hash=await ctx.hasher.hash(PASSWORD),
        )
    answer: dict[str, Any] = await service.login(
        {"login": name, "password": PASSWORD}, rpc_request("auth.login", {})
    )
    return answer


async def count_events(ctx: WorkerContext, user_id: int, event_type: str) -> int:
    rows = await ctx.pool.fetch(
        "SELECT type FROM audit_events WHERE user_id = $1 AND type = $2", user_id, event_type
    )
    return len(rows)


async def twice(handler: Any, method: str, params: dict[str, Any]) -> tuple[Any, Any]:
    request = rpc_request(method, params)
    first = await handler(params, request)
    second = await handler(params, dataclasses.replace(request))
    return first, second


async def test_a_redelivered_refresh_answers_the_same_pair(
    worker_context: WorkerContext, unique: Callable[[str], str]
):
    service = AuthService(worker_context)
    login = await account(worker_context, service, unique)
    params = {"refresh_token": login["refresh_token"]}

    first, second = await twice(service.methods()["auth.refresh"].handler, "auth.refresh", params)

    assert first["refresh_token"] == second["refresh_token"] != login["refresh_token"]
    assert first["token"] == second["token"]


async def test_a_redelivered_logout_ends_and_records_once(
    worker_context: WorkerContext, unique: Callable[[str], str]
):
    service = AuthService(worker_context)
    login = await account(worker_context, service, unique)
    uid = login["user"]["id"]
    params = {"user_id": uid, "session_id": 0, "scope": "global"}

    first, second = await twice(service.methods()["auth.logout"].handler, "auth.logout", params)

    assert (first, second) == ({"sessions_ended": 1}, {"sessions_ended": 0})
    assert await count_events(worker_context, uid, "session.ended") == 1


async def test_a_redelivered_reset_runs_once(
    worker_context: WorkerContext, unique: Callable[[str], str]
):
    service = AuthService(worker_context)
    login = await account(worker_context, service, unique)
    uid = login["user"]["id"]
    token = new_token()
    async with worker_context.pool.acquire() as conn:
        stored = await conn.fetchval("SELECT password_hash FROM users WHERE id = $1", uid)
        await worker_context.queries.execute(
            conn,
            "insert_password_reset",
            token_hash=token_hash(token),
            user_id=uid,
            password_fingerprint=password_fingerprint(stored),
            expires_at=await conn.fetchval("SELECT now() + interval '5 minutes'"),
        )
    params = {"token": token, "newPassword": "another123"}

    first, second = await twice(
        service.methods()["auth.reset_password"].handler, "auth.reset_password", params
    )

    assert first == second == {"sessions_ended": 1}
    assert await count_events(worker_context, uid, "user.password_reset") == 1
