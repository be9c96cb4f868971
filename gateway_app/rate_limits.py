"""Per-client-IP rate limits on the routes an attacker would hammer.

A table keyed by route path, checked in request middleware before the body is
read, so a limit holds for a route as soon as the route exists. Each check is
one Redis round trip: a GCRA script (one key per route and client, holding
the time the next request is due) that allows ``count`` at once, then one per
``period / count``. Past it: 429 with ``Retry-After``.

When Redis is unreachable the limit steps aside (fail open) with a warning:
the routes behind it need Redis for their RPC anyway, and answer 503 on their own.
"""

from __future__ import annotations

import math
from typing import Any

from loguru import logger
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sanic import Request, Sanic

from common.config import Rate
from common.context import origin_var
from common.errors import RateLimited
from common.keys import Keys
from common.security.addresses import limit_subject

# Route path -> the name of its limit in Settings.rate_limits (RATE_LIMIT_<NAME>).
LIMITED_ROUTES: dict[str, str] = {
    "/api/users/register": "register",
    "/api/auth/refresh": "refresh",
    "/api/auth/forgot-password": "forgot_password",
    "/api/auth/reset-password": "reset_password",
    "/api/auth/verify-email/resend": "verify_email_resend",
    "/api/auth/webauthn/login/options": "webauthn_options",
    "/api/auth/webauthn/login": "webauthn_login",
}

# KEYS[1] the client's key; ARGV[1] ms between requests (period / count);
# ARGV[2] ms of burst (the period). Returns 0 when the request is allowed
# (and counted), else the ms until it would be.
GCRA = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local interval = tonumber(ARGV[1])
local due = tonumber(redis.call('GET', KEYS[1])) or now
if due < now then
  due = now
end
local next_due = due + interval
local wait = next_due - tonumber(ARGV[2]) - now
if wait > 0 then
  return wait
end
redis.call('SET', KEYS[1], next_due, 'PX', next_due - now)
return 0
"""


class RateLimiter:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._keys = keys
        self._script = redis.register_script(GCRA)

    async def hit(self, route: str, client_ip: str, rate: Rate) -> None:
        """Count one request, or raise RateLimited with the whole seconds to wait."""
        period_ms = max(1, round(rate.period * 1000))
        interval_ms = max(1, math.ceil(period_ms / rate.count))
        key = self._keys.rate_limit(route, limit_subject(client_ip))
        try:
            wait_ms = int(await self._script(keys=[key], args=[interval_ms, period_ms]))
        except RedisError as exc:
            logger.warning("rate limit on {} not checked: {}", route, exc)
            return
        if wait_ms > 0:
            raise RateLimited(
                "Too many requests from this address; try again later",
                {"retry_after": max(1, math.ceil(wait_ms / 1000))},
            )


def register_rate_limits(app: Sanic[Any, Any]) -> None:
    """Limit the routes of LIMITED_ROUTES; call after the listener that opens app.ctx.redis."""
    app.register_listener(_open_limiter, "before_server_start")
    app.register_middleware(_limit, "request")


async def _open_limiter(app: Sanic[Any, Any]) -> None:
    app.ctx.rate_limiter = RateLimiter(app.ctx.redis, app.ctx.keys)


async def _limit(request: Request) -> None:
    # Trailing slashes reach the same handler, so they must reach the same limit.
    route = LIMITED_ROUTES.get("/" + request.path.strip("/"))
    if route is None or request.method == "OPTIONS":
        return
    rate = request.app.ctx.settings.limits.rate_limits.get(route)
    origin = origin_var.get() or {}
    if rate is None or "client_ip" not in origin:
        return
    await request.app.ctx.rate_limiter.hit(route, origin["client_ip"], rate)
