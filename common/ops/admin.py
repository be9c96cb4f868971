"""``gatehouse admin grant|revoke EMAIL ROLE``: roles from the operator's shell.

How the first admin comes to be: nobody can call the admin API before
someone holds ``admin``. The change is an audit event like one made through
the API, with ``actor_id`` null (the command line) and ``cli`` as request id.
"""

from __future__ import annotations

import asyncio
import sys
import uuid

from redis.asyncio import Redis

from common.accounts.audit import Audit, Recorded
from common.accounts.roles import change_role
from common.config import Settings
from common.db.pool import connection, create_pool
from common.db.queries import Queries
from common.errors import GatehouseError
from common.keys import Keys
from common.rpc.message import Request


def run_admin(settings: Settings, action: str, email: str, role: str) -> int:
    """Grant or revoke ``role`` for the account with ``email``; the exit status."""
    try:
        changed = asyncio.run(_change(settings, action == "grant", email.strip(), role))
    except GatehouseError as exc:
        print(f"gatehouse: {exc.message} {exc.details or ''}".rstrip(), file=sys.stderr)
        return 1
    verb = "granted" if action == "grant" else "revoked"
    print(f"{role} {verb} for {email}" if changed else f"nothing to do: {email} already so")
    return 0


async def _change(settings: Settings, grant: bool, email: str, role: str) -> bool:
    queries = Queries.load()
    redis = Redis.from_url(settings.rpc.redis_url)
    pool = await create_pool(settings)
    audit = Audit(redis, Keys(settings.rpc.rpc_prefix), queries)
    request = Request(
        method=f"cli.admin_{'grant' if grant else 'revoke'}",
        params={},
        reply_to="",
        deadline=0,
        headers={"request_id": f"cli-{uuid.uuid4().hex[:12]}"},
    )
    recorded = Recorded()
    try:
        async with connection(pool) as conn, conn.transaction():
            user_id = await queries.value(conn, "get_user_id_by_email", email=email)
            if user_id is None:
                raise GatehouseError(f"no account has the email {email}")
            changed = await change_role(
                conn,
                queries,
                audit,
                request,
                user_id=user_id,
                role=role,
                grant=grant,
                actor_id=None,
                into=recorded,
            )
        await audit.publish(recorded)
        return changed
    finally:
        await pool.close()
        await redis.aclose()
