"""Login throttling: too many failed passwords for one account name -> 429.

Counts failures per account name (username or email, case-folded, hashed)
in Redis for a window; a success clears the count. It slows online guessing
against one account without locking its owner out for longer than the
window. If Redis is unreachable the check is skipped: the password is still
required, and logins keep working.
"""

from __future__ import annotations

import hashlib

from loguru import logger
from redis.asyncio import Redis
from redis.exceptions import RedisError

from common.errors import RateLimited
from common.keys import Keys


class LoginThrottle:
    def __init__(self, redis: Redis, keys: Keys, *, max_failures: int, window: float) -> None:
        self._redis = redis
        self._keys = keys
        self._max_failures = max_failures
        self._window_ms = int(window * 1000)

    def _key(self, login: str) -> str:
        return self._keys.login_failures(hashlib.sha256(login.casefold().encode()).hexdigest())

    async def check(self, login: str) -> None:
        """Raise RateLimited (with the seconds to wait) while the account is throttled."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.get(self._key(login))
                pipe.pttl(self._key(login))
                failures, ttl_ms = await pipe.execute()
        except RedisError as exc:
            logger.warning("login throttle unavailable: {}", exc)
            return
        if failures is not None and int(failures) >= self._max_failures:
            retry_after = max(1, -(-int(ttl_ms) // 1000))
            raise RateLimited(
                "Too many failed logins; try again later", {"retry_after": retry_after}
            )

    async def failed(self, login: str) -> None:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(self._key(login))
                # NX: the window starts at the first failure and is not extended.
                pipe.pexpire(self._key(login), self._window_ms, nx=True)
                await pipe.execute()
        except RedisError as exc:
            logger.warning("login failure not counted: {}", exc)

    async def succeeded(self, login: str) -> None:
        try:
            await self._redis.delete(self._key(login))
        except RedisError as exc:
            logger.warning("login failures not cleared: {}", exc)
