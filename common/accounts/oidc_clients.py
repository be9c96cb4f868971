"""The OpenID Connect client registry, shared by the auth worker's admin
methods and the operator's ``gatehouse clients`` command.

A client id is public; a confidential client's secret is 256 random bits,
shown once and stored as its SHA-256 (a secret that strong needs no slow hash,
and the token endpoint checks it on every call). Redirect URIs are compared
exactly, so they are checked here once: absolute, no fragment, https or a
loopback http address (RFC 8252 7.3) or a private-use scheme (RFC 8252 7.1).
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from common.db.queries import Queries
from common.errors import NotFound, ValidationFailed
from common.security.opaque_tokens import new_token, token_hash

# Scopes whose claims the provider knows; a client may add API scopes of its own.
USER_SCOPES = ("openid", "profile", "email", "offline_access")
DEFAULT_SCOPES = USER_SCOPES
_SCOPE = re.compile(r"\A[A-Za-z0-9_.:/-]{1,64}\Z")
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
_PRIVATE_SCHEME = re.compile(r"\A[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+\Z")


@dataclass(frozen=True, slots=True)
class NewClient:
    client_id: str
    # None for a public client.
    client_secret: str | None


def check_redirect_uri(uri: str) -> str:
    """``uri`` if a client may register it; ValidationFailed says why not."""
    parts = urlsplit(uri)
    problem = None
    if parts.fragment or "#" in uri:
        problem = "must not contain a fragment"
    elif parts.scheme == "https":
        problem = None if parts.hostname else "needs a host"
    elif parts.scheme == "http":
        if parts.hostname not in _LOOPBACK_HOSTS:
            problem = "may use http only on a loopback address (localhost, 127.0.0.1, [::1])"
    elif not _PRIVATE_SCHEME.match(parts.scheme):
        problem = "must be https, http on loopback, or a reverse-domain private scheme"
    if problem is not None:
        raise ValidationFailed("Invalid redirect URI", {"redirect_uri": [f"{uri!r} {problem}"]})
    return uri


def check_scopes(scopes: Sequence[str]) -> list[str]:
    bad = [scope for scope in scopes if not _SCOPE.match(scope)]
    if bad:
        raise ValidationFailed("Invalid scope", {"scopes": [f"{bad[0]!r} is not a scope name"]})
    return sorted(set(scopes))


def public_client(row: asyncpg.Record) -> dict[str, Any]:
    """A client as the CLI and the admin API show it (never its secret hash)."""
    return {
        "client_id": row["id"],
        "name": row["name"],
        "public": row["secret_hash"] is None,
        "redirect_uris": list(row["redirect_uris"]),
        "post_logout_redirect_uris": list(row["post_logout_redirect_uris"]),
        "scopes": list(row["scopes"]),
        "created_at": row["created_at"].isoformat(),
    }


def secret_matches(row: asyncpg.Record, presented: str) -> bool:
    stored = row["secret_hash"]
    return stored is not None and hmac.compare_digest(stored, token_hash(presented))


async def add_client(
    conn: asyncpg.Connection,
    queries: Queries,
    *,
    name: str,
    redirect_uris: Sequence[str],
    post_logout_redirect_uris: Sequence[str] = (),
    scopes: Sequence[str] = DEFAULT_SCOPES,
    public: bool = False,
) -> NewClient:
    """Register a client; its secret (None when public) is in the answer only."""
    if not redirect_uris:
        raise ValidationFailed("Invalid redirect URI", {"redirect_uris": ["at least one"]})
    uris = [check_redirect_uri(uri) for uri in redirect_uris]
    logout_uris = [check_redirect_uri(uri) for uri in post_logout_redirect_uris]
    client_id = f"gh-{secrets.token_urlsafe(12)}"
    secret = None if public else new_token()
    await queries.execute(
        conn,
        "oidc_insert_client",
        client_id=client_id,
        name=name,
        secret_hash=None if secret is None else token_hash(secret),
        redirect_uris=uris,
        post_logout_redirect_uris=logout_uris,
        scopes=check_scopes(scopes),
    )
    return NewClient(client_id, secret)


async def get_client(conn: asyncpg.Connection, queries: Queries, client_id: str) -> asyncpg.Record:
    row = await queries.one(conn, "oidc_get_client", client_id=client_id)
    if row is None:
        raise NotFound("No such client")
    return row


async def rotate_secret(conn: asyncpg.Connection, queries: Queries, client_id: str) -> str:
    """A new secret for a confidential client; the old one stops working at once."""
    secret = new_token()
    rotated = await queries.value(
        conn, "oidc_rotate_client_secret", client_id=client_id, secret_hash=token_hash(secret)
    )
    if rotated is None:
        await get_client(conn, queries, client_id)  # NotFound when there is none
        raise ValidationFailed("A public client has no secret", {"client_id": ["public"]})
    return secret


async def remove_client(conn: asyncpg.Connection, queries: Queries, client_id: str) -> None:
    """Delete a client: its consents, codes, grants and refresh tokens go with it."""
    if await queries.value(conn, "oidc_delete_client", client_id=client_id) is None:
        raise NotFound("No such client")
