"""``gatehouse clients``: the OpenID Connect client registry from the command line.

Talks to PostgreSQL directly (like ``gatehouse migrate``), through the same
functions the admin API uses (common/accounts/oidc_clients.py).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from common.accounts import oidc_clients as registry
from common.config import Settings
from common.errors import GatehouseError


def add_parser(commands: Any) -> None:
    clients = commands.add_parser("clients", help="register and manage OpenID Connect clients")
    actions = clients.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="register a client; prints its id and secret (once)")
    add.add_argument("name")
    add.add_argument(
        "--redirect-uri",
        action="append",
        required=True,
        dest="redirect_uris",
        help="exact redirect URI (repeat for several)",
    )
    add.add_argument(
        "--post-logout-redirect-uri",
        action="append",
        default=[],
        dest="post_logout_redirect_uris",
        help="where logout may send the person back",
    )
    add.add_argument(
        "--scope",
        action="append",
        default=None,
        dest="scopes",
        help="allowed scope (repeat; default: openid profile email offline_access)",
    )
    add.add_argument(
        "--public",
        action="store_true",
        help="a public client (browser or native app): no secret, PKCE only",
    )
    actions.add_parser("list", help="list the registered clients")
    for name, text in (
        ("show", "show one client"),
        ("rotate-secret", "issue a new secret"),
        ("remove", "remove a client and everything issued to it"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("client_id")


def run_clients(settings: Settings, args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(settings, args))
    except GatehouseError as exc:
        problems = " ".join(str(v) for v in exc.details.values()) if exc.details else ""
        print(f"gatehouse: {exc.message} {problems}".rstrip(), file=sys.stderr)
        return 1


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    import asyncpg

    from common.db.queries import Queries

    queries = Queries.load()
    conn = await asyncpg.connect(settings.db.database_url)
    try:
        if args.action == "add":
            scopes = [s for item in (args.scopes or registry.DEFAULT_SCOPES) for s in item.split()]
            made = await registry.add_client(
                conn,
                queries,
                name=args.name,
                redirect_uris=args.redirect_uris,
                post_logout_redirect_uris=args.post_logout_redirect_uris,
                scopes=scopes,
                public=args.public,
            )
            print(f"client_id:     {made.client_id}")
            if made.client_secret is not None:
                print(f"client_secret: {made.client_secret}")
                print("(the secret is shown this once and stored only as a hash)")
        elif args.action == "list":
            for row in await queries.many(conn, "oidc_list_clients"):
                kind = "public" if row["secret_hash"] is None else "confidential"
                print(f"{row['id']}\t{kind}\t{row['name']}\t{' '.join(row['redirect_uris'])}")
        elif args.action == "show":
            client = registry.public_client(
                await registry.get_client(conn, queries, args.client_id)
            )
            for key, value in client.items():
                shown = " ".join(value) if isinstance(value, list) else value
                print(f"{key}: {shown}")
        elif args.action == "rotate-secret":
            secret = await registry.rotate_secret(conn, queries, args.client_id)
            print(f"client_secret: {secret}")
        else:
            await registry.remove_client(conn, queries, args.client_id)
            print(f"removed {args.client_id}")
    finally:
        await conn.close()
    return 0
