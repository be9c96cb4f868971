"""Login throttling: failures counted per account, per client IP and per pair.

Each scope keeps a sorted set of failure times in Redis (a sliding window).
Up to ``max_failures`` in the window are free; past that, each attempt must
wait after the latest failure, twice as long per further failure, at most
``max_delay`` (Keycloak's steps and ceiling, not a fixed lock-out).

- The account (the user id, whatever name or email was typed; an unknown name
  by a digest of its text, so unknown accounts are throttled alike) slows a
  guesser spraying one account from many addresses. Its ceiling is short: it
  is the only scope that also slows the owner.
- The client IP slows one address spraying many accounts.
- The (account, IP) pair slows one address guessing one account, hardest; the
  owner's own success clears it, and the owner's clean address has none.

``begin`` checks every scope and, when allowed, records the attempt as a
failure, in one script, one round trip: concurrent guesses cannot all slip in
before any is counted. A success takes the attempt back. If Redis is
unreachable the throttle steps aside: the password is still required.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass

from loguru import logger
from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.config import FailureLimit, LoginThrottleSettings
from common.errors import RateLimited
from common.keys import Keys
from common.security.addresses import limit_subject

# KEYS: one failure set per scope. ARGV[1] window ms, ARGV[2] first delay ms,
# ARGV[3] attempt id, then for each key: max failures, max delay ms.
# Returns 0 once the attempt is recorded in every set, or the ms to wait
# (nothing recorded). Time is Redis's, so workers' clocks do not matter.
BEGIN_ATTEMPT = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local window = tonumber(ARGV[1])
local first_delay = tonumber(ARGV[2])
local wait = 0
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local failures = redis.call('ZCARD', key)
  local free = tonumber(ARGV[2 + 2 * i])
  if failures >= free then
    local max_delay = tonumber(ARGV[3 + 2 * i])
    local latest = tonumber(redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2])
    local delay = math.min(max_delay, first_delay * 2 ^ math.min(failures - free, 60))
    -- Or sooner, when enough failures leave the window to fall below the limit.
    local nth = failures - free
    local leaves = tonumber(redis.call('ZRANGE', key, nth, nth, 'WITHSCORES')[2]) + window
    wait = math.max(wait, math.min(latest + delay, leaves) - now)
  end
end
if wait > 0 then
  return math.ceil(wait)
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, window)
end
return 0
"""


def account_subject(user_id: int | None, login: str) -> str:
    """The account a login attempt counts against: its user, or the name typed."""
    if user_id is not None:
        return f"user:{user_id}"
    return "name:" + hashlib.sha256(login.strip().casefold().encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Scope:
    """Where failures are counted ("account", "ip" or "pair"), under which limit."""

    name: str
    key: str
    limit: FailureLimit


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """An attempt counted as a failure until ``succeeded`` takes it back."""

    throttle: LoginThrottle
    attempt_id: str
    scopes: tuple[Scope, ...]

    async def succeeded(self) -> None:
        """Not a failure after all; and the (account, IP) pair starts afresh."""
        await self.throttle.forgive(self)


class LoginThrottle:
    """Begins login attempts (or refuses them with RateLimited) and forgives successes."""

    def __init__(self, redis: Redis, keys: Keys, settings: LoginThrottleSettings) -> None:
        self._redis = redis
        self._keys = keys
        self._settings = settings
        self._begin = redis.register_script(BEGIN_ATTEMPT)

    def scopes(self, account: str, client_ip: str | None) -> tuple[Scope, ...]:
        """Where an attempt counts: its account, and with a known address, the IP and the pair."""
        settings = self._settings
        account_scope = Scope(
            "account", self._keys.login_failures("account", account), settings.account
        )
        if client_ip is None:
            return (account_scope,)
        ip = limit_subject(client_ip)
        return (
            account_scope,
            Scope("ip", self._keys.login_failures("ip", ip), settings.ip),
            Scope("pair", self._keys.login_failures("pair", f"{account}@{ip}"), settings.pair),
        )

    async def begin(self, account: str, client_ip: str | None) -> LoginAttempt:
        """Count an attempt, or raise RateLimited with the whole seconds to wait."""
        scopes = self.scopes(account, client_ip)
        attempt_id = uuid.uuid4().hex
        args: list[int | str] = [
            _ms(self._settings.window),
            _ms(self._settings.first_delay),
            attempt_id,
        ]
        for scope in scopes:
            args += [scope.limit.max_failures, _ms(scope.limit.max_delay)]
        try:
            wait_ms = int(await self._begin(keys=[scope.key for scope in scopes], args=args))
        except RedisError as exc:
            logger.warning("login throttle unavailable, attempt not counted: {}", exc)
            return LoginAttempt(self, attempt_id, ())
        if wait_ms > 0:
            raise RateLimited(
                "Too many failed logins; try again later",
                {"retry_after": max(1, math.ceil(wait_ms / 1000))},
            )
        return LoginAttempt(self, attempt_id, scopes)

    async def forgive(self, attempt: LoginAttempt) -> None:
        """Take a successful attempt back from the account and IP counts; clear its pair."""
        if not attempt.scopes:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for scope in attempt.scopes:
                    if scope.name == "pair":
                        pipe.delete(scope.key)
                    else:
                        pipe.zrem(scope.key, attempt.attempt_id)
                await pipe.execute()
        except RedisError as exc:
            logger.warning("successful login still counted as a failure: {}", exc)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))
