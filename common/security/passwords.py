"""bcrypt hashing on a thread pool of its own, never on the event loop."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import bcrypt

# bcrypt reads only the first 72 bytes; the bcrypt package raises beyond them,
# so the schemas refuse longer passwords before they get here.
MAX_PASSWORD_BYTES = 72


class PasswordHasher:
    """Hash and verify passwords with ``rounds`` of bcrypt on ``threads`` threads.

    bcrypt releases the GIL, so a pool as large as the core count keeps every
    core busy while the event loop goes on serving other requests.
    """

    def __init__(self, rounds: int, threads: int) -> None:
        self.rounds = rounds
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bcrypt")
        # Verified against when a login names no user, so that an unknown user
        # costs as much time as a wrong password and reveals nothing.
        self._decoy_hash = bcrypt.hashpw(b"decoy-password-1", bcrypt.gensalt(rounds))

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        salt = bcrypt.gensalt(self.rounds)
        hashed = await loop.run_in_executor(self._executor, bcrypt.hashpw, password.encode(), salt)
        return hashed.decode()

    async def verify(self, password: str, hashed: str | None) -> bool:
        """Constant-time check; ``hashed=None`` burns the same time and answers False."""
        candidate = password.encode()
        if len(candidate) > MAX_PASSWORD_BYTES:
            candidate = candidate[:MAX_PASSWORD_BYTES]
        target = hashed.encode() if hashed is not None else self._decoy_hash
        loop = asyncio.get_running_loop()
        matches = await loop.run_in_executor(self._executor, bcrypt.checkpw, candidate, target)
        return matches and hashed is not None
