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

``begin`` checks every scope and admits the attempt in one script, one round
trip. Attempts in flight are counted too: once failures plus attempts in
flight reach a limit, further attempts wait for those to finish (each either
fails, and the rest are refused, or succeeds, and the next may go). So a burst
of concurrent guesses cannot slip past a limit, and a burst of concurrent
right passwords is not refused. If Redis is unreachable the throttle steps
aside: the password is still required.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import uuid
from dataclasses import dataclass

from loguru import logger
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from common.config import FailureLimit, LoginThrottleSettings
from common.errors import RateLimited
from common.keys import Keys
from common.replication import ConfirmedScript, ReplicaConfirm
from common.security.addresses import limit_subject

# An attempt in flight longer than this was lost (its worker died): forget it.
PENDING_TTL_MS = 30_000
# How long, and how often, an attempt held back by attempts in flight retries.
BUSY_PATIENCE_SECONDS = 3.0
BUSY_POLL_SECONDS = 0.05
BUSY = -1

# KEYS: per scope, its failures then its attempts in flight. ARGV[1] window ms,
# ARGV[2] first delay ms, ARGV[3] attempt id, ARGV[4] pending ttl ms, then per
# scope: max failures, max delay ms. Returns 0 once the attempt is recorded as
# in flight, -1 (BUSY) when only attempts in flight stand in its way, else the
# ms to wait. Time is Redis's, so workers' clocks do not matter.
BEGIN_ATTEMPT = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local window = tonumber(ARGV[1])
local first_delay = tonumber(ARGV[2])
local wait, busy = 0, false
for i = 1, #KEYS / 2 do
  local failed, pending = KEYS[2 * i - 1], KEYS[2 * i]
  redis.call('ZREMRANGEBYSCORE', failed, '-inf', now - window)
  redis.call('ZREMRANGEBYSCORE', pending, '-inf', now - tonumber(ARGV[4]))
  local failures = redis.call('ZCARD', failed)
  local free = tonumber(ARGV[3 + 2 * i])
  if failures >= free then
    local max_delay = tonumber(ARGV[4 + 2 * i])
    local latest = tonumber(redis.call('ZRANGE', failed, -1, -1, 'WITHSCORES')[2])
    local delay = math.min(max_delay, first_delay * 2 ^ math.min(failures - free, 60))
    -- Or sooner, when enough failures leave the window to fall below the limit.
    local nth = failures - free
    local leaves = tonumber(redis.call('ZRANGE', failed, nth, nth, 'WITHSCORES')[2]) + window
    wait = math.max(wait, math.min(latest + delay, leaves) - now)
  elseif failures + redis.call('ZCARD', pending) >= free then
    busy = true
  end
end
if wait > 0 then
  return math.ceil(wait)
end
if busy then
  return -1
end
for i = 2, #KEYS, 2 do
  redis.call('ZADD', KEYS[i], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[i], ARGV[4])
end
return 0
"""

# KEYS as above; ARGV[1] window ms, ARGV[2] attempt id.
RECORD_FAILURE = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
for i = 1, #KEYS, 2 do
  redis.call('ZREM', KEYS[i + 1], ARGV[2])
  redis.call('ZADD', KEYS[i], now, ARGV[2])
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
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
    failures_key: str
    pending_key: str
    limit: FailureLimit


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """An admitted attempt, in flight until it ``failed`` or ``succeeded``."""

    throttle: LoginThrottle
    attempt_id: str
    scopes: tuple[Scope, ...]

    async def failed(self) -> None:
        """Count it as a failure in every scope."""
        await self.throttle.record_failure(self)

    async def succeeded(self) -> None:
        """Not a failure; and the (account, IP) pair starts afresh."""
        await self.throttle.forgive(self)

    async def released(self) -> None:
        """Neither: the attempt could not be judged (an error); it is no longer in flight."""
        await self.throttle.release(self)


class LoginThrottle:
    """Admits login attempts (or refuses them with RateLimited) and records their outcome."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        settings: LoginThrottleSettings,
        replicas: ReplicaConfirm | None = None,
        *,
        namespace: str = "",
        refusal: str = "Too many failed logins; try again later",
    ) -> None:
        """``namespace`` keeps another kind of guess (second-factor codes: ``"mfa-"``)
        in windows of its own, under the same limits; ``refusal`` is the 429's message."""
        self._redis = redis
        self._keys = keys
        self._settings = settings
        self._namespace = namespace
        self._refusal = refusal
        self._begin = redis.register_script(BEGIN_ATTEMPT)
        self._fail: ConfirmedScript | AsyncScript = redis.register_script(RECORD_FAILURE)
        if replicas is not None:
            # A failure count a failover loses is a free guess for an attacker.
            self._fail = replicas.script(self._fail, what="login failure count")

    def scopes(self, account: str, client_ip: str | None) -> tuple[Scope, ...]:
        """Where an attempt counts: its account, and with a known address, the IP and the pair."""
        limits = self._settings
        subjects = [("account", account, limits.account)]
        if client_ip is not None:
            ip = limit_subject(client_ip)
            subjects += [("ip", ip, limits.ip), ("pair", f"{account}@{ip}", limits.pair)]
        return tuple(
            Scope(
                name,
                self._keys.login_failures(self._namespace + name, subject),
                self._keys.login_pending(self._namespace + name, subject),
                limit,
            )
            for name, subject, limit in subjects
        )

    async def begin(
        self, account: str, client_ip: str | None, *, patience: float = BUSY_PATIENCE_SECONDS
    ) -> LoginAttempt:
        """Admit an attempt, or raise RateLimited with the whole seconds to wait."""
        scopes = self.scopes(account, client_ip)
        attempt_id = uuid.uuid4().hex
        keys = [key for scope in scopes for key in (scope.failures_key, scope.pending_key)]
        args: list[int | str] = [
            _ms(self._settings.window),
            _ms(self._settings.first_delay),
            attempt_id,
            PENDING_TTL_MS,
        ]
        for scope in scopes:
            args += [scope.limit.max_failures, _ms(scope.limit.max_delay)]
        loop = asyncio.get_running_loop()
        give_up = loop.time() + patience
        try:
            while (wait_ms := int(await self._begin(keys=keys, args=args))) == BUSY:
                if loop.time() >= give_up:
                    break
                await asyncio.sleep(BUSY_POLL_SECONDS)
        except RedisError as exc:
            logger.warning("login throttle unavailable, attempt not counted: {}", exc)
            return LoginAttempt(self, attempt_id, ())
        if wait_ms != 0:
            raise RateLimited(
                self._refusal,
                {"retry_after": max(1, math.ceil(wait_ms / 1000))},
            )
        return LoginAttempt(self, attempt_id, scopes)

    async def record_failure(self, attempt: LoginAttempt) -> None:
        if not attempt.scopes:
            return
        keys = [key for scope in attempt.scopes for key in (scope.failures_key, scope.pending_key)]
        try:
            await self._fail(keys=keys, args=[_ms(self._settings.window), attempt.attempt_id])
        except RedisError as exc:
            logger.warning("login failure not counted: {}", exc)

    async def forgive(self, attempt: LoginAttempt) -> None:
        if not attempt.scopes:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for scope in attempt.scopes:
                    pipe.zrem(scope.pending_key, attempt.attempt_id)
                    if scope.name == "pair":
                        pipe.delete(scope.failures_key)
                await pipe.execute()
        except RedisError as exc:
            logger.warning("successful login not cleared from the throttle: {}", exc)

    async def release(self, attempt: LoginAttempt) -> None:
        if not attempt.scopes:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for scope in attempt.scopes:
                    pipe.zrem(scope.pending_key, attempt.attempt_id)
                await pipe.execute()
        except RedisError as exc:
            logger.warning("attempt in flight not cleared from the throttle: {}", exc)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))
