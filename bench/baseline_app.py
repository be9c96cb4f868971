"""The baseline of the profile scenario: one Sanic process doing the work itself.

``GET /api/users/profile`` with the gateway's token check (the same
``TokenVerifier.from_settings``: PyJWT, explicit algorithm, required claims,
verified once per request), the same Redis GET of the session mirror, and the
same named SQL, in its own handler: no RPC hop, no worker. What a competent
engineer would write for one process (SETTINGS, shown in the bench's output):
uvloop, no access log, a warm pool sized to the load, the query prepared once
per connection (asyncpg's statement cache), hiredis. Bench-only code;
``/health`` answers 200 once the pool and Redis are open.

    PORT=3999 DATABASE_URL=... REDIS_URL=... python -m bench.baseline_app
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
from sanic import Request, Sanic
from sanic.response import HTTPResponse

from common.config import Settings
from common.db.pool import create_pool
from common.db.queries import Queries
from common.errors import GatehouseError
from common.keys import Keys
from common.redis_client import command_client
from common.security.tokens import TokenVerifier

JSON = "application/json"
# 64 connections of load, each holding a PostgreSQL connection only for one
# indexed read: 16 (min = max, opened before the run) never runs dry, and
# more backends on a 2-core machine only add context switches.
POOL_SIZE = 16
REDIS_CONNECTIONS = 16
SETTINGS = (
    f"one Sanic process, uvloop, access log off, asyncpg pool {POOL_SIZE} (warm, "
    f"statement prepared once per connection), Redis pool {REDIS_CONNECTIONS} with hiredis, "
    "PyJWT verify once per request"
)


def create_baseline_app(settings: Settings) -> Sanic[Any, Any]:
    app: Sanic[Any, Any] = Sanic("gatehouse_bench_baseline", configure_logging=False)
    app.ctx.settings = settings
    # Sanic's default already picks uvloop when installed; insist, so that a
    # baseline without it fails instead of running slower unnoticed.
    app.config.USE_UVLOOP = True

    @app.before_server_start
    async def open_resources(app: Sanic[Any, Any]) -> None:
        sized = replace(
            settings, db=replace(settings.db, db_pool_min=POOL_SIZE, db_pool_max=POOL_SIZE)
        )
        app.ctx.pool = await create_pool(sized)
        app.ctx.redis = command_client(settings.rpc.redis_url, max_connections=REDIS_CONNECTIONS)
        app.ctx.keys = Keys(settings.rpc.rpc_prefix)
        app.ctx.profile_sql = Queries.load().get("get_user_profile", "one").sql
        app.ctx.tokens = TokenVerifier.from_settings(settings)

    @app.after_server_stop
    async def close_resources(app: Sanic[Any, Any]) -> None:
        await app.ctx.pool.close()
        await app.ctx.redis.aclose()

    app.add_route(profile, "/api/users/profile", methods=["GET"])
    app.add_route(health, "/health", methods=["GET"])
    return app


async def profile(request: Request) -> HTTPResponse:
    ctx = request.app.ctx
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    try:
        if scheme.lower() != "bearer":
            raise GatehouseError("Missing bearer token")
        claims = ctx.tokens.verify(token.strip())
    except GatehouseError as exc:
        return _error(401, exc.message)
    state = await ctx.redis.get(ctx.keys.session(claims.session_id))
    if state != str(claims.user_id).encode():
        return _error(401, "Session has ended; log in again")
    # fetchrow on the pool: acquire, the cached prepared statement, release.
    row = await ctx.pool.fetchrow(ctx.profile_sql, claims.user_id)
    if row is None:
        return _error(404, "User not found")
    user = {
        "id": row["id"],
        "username": row["username"],
        "email": row["email"],
        "created_at": row["created_at"].isoformat(),
    }
    return HTTPResponse(orjson.dumps({"success": True, "user": user}), content_type=JSON)


async def health(request: Request) -> HTTPResponse:
    return HTTPResponse(b'{"status":"healthy"}', content_type=JSON)


def _error(status: int, message: str) -> HTTPResponse:
    body = {"success": False, "error": {"code": "error", "message": message, "details": {}}}
    return HTTPResponse(orjson.dumps(body), status=status, content_type=JSON)


def main() -> None:
    settings = Settings.from_env()
    create_baseline_app(settings).run(
        host="127.0.0.1",
        port=settings.http.port_for("gateway"),
        single_process=True,
        access_log=False,
        motd=False,
    )


if __name__ == "__main__":
    main()
