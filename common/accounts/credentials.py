"""The check every change of one's own account starts with: is this password mine?"""

from __future__ import annotations

import asyncpg

from common.db.pool import connection
from common.errors import InvalidCredentials, InvalidToken
from common.worker import WorkerContext


async def verify_own_password(
    ctx: WorkerContext, *, user_id: int, password: str, wrong: str
) -> asyncpg.Record:
    """The caller's ``id`` and ``password_hash`` once ``password`` matches it.

    InvalidToken when the user no longer exists (a token outliving its account),
    InvalidCredentials with the message ``wrong`` when the password does not match.
    """
    async with connection(ctx.pool) as conn:
        user = await ctx.queries.one(conn, "get_user_credentials", user_id=user_id)
    if user is None:
        raise InvalidToken("The token's user no longer exists")
    if not await ctx.hasher.verify(password, user["password_hash"]):
        raise InvalidCredentials(wrong)
    return user
