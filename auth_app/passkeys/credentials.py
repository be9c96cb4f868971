"""A user's passkeys: register one (options, then the authenticator's answer), list, delete.

Registration asks for a discoverable credential (a passkey proper: it signs
in without a username) with user verification, and no attestation: nothing
here judges the authenticator's make. Both writes run once per message id.
"""

from __future__ import annotations

import binascii
import secrets
from datetime import UTC, datetime
from typing import Any

import asyncpg
from loguru import logger
from webauthn import base64url_to_bytes

from auth_app.passkeys.ceremonies import REGISTER, Ceremonies, Ceremony, new_challenge
from auth_app.passkeys.verification import (
    KNOWN_TRANSPORTS,
    Refused,
    registration_options,
    verify_registration,
)
from common.accounts.audit import Audit, Recorded
from common.db.idempotency import run_once
from common.db.pool import connection
from common.errors import Conflict, InvalidPasskey, InvalidToken, NotFound
from common.rpc.message import Request
from common.worker import WorkerContext

USER_HANDLE_BYTES = 32
# Credential row ids are PostgreSQL BIGINTs: a larger id names no passkey.
MAX_PASSKEY_ID = 2**63 - 1


def public_passkey(row: asyncpg.Record) -> dict[str, Any]:
    last_used = row["last_used_at"]
    return {
        "id": row["id"],
        "name": row["name"],
        "transports": list(row["transports"]),
        "backed_up": row["backed_up"],
        "created_at": row["created_at"].isoformat(),
        "last_used_at": last_used.isoformat() if last_used is not None else None,
    }


def decode_base64url(text: str) -> bytes | None:
    try:
        return base64url_to_bytes(text)
    except (binascii.Error, ValueError):
        return None


class PasskeyCredentials:
    def __init__(self, ctx: WorkerContext, audit: Audit, ceremonies: Ceremonies) -> None:
        self._ctx = ctx
        self._audit = audit
        self._settings = ctx.settings.webauthn
        self._ceremonies = ceremonies

    async def register_options(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx, user_id = self._ctx, params["user_id"]
        async with connection(ctx.pool) as conn:
            user = await ctx.queries.one(conn, "webauthn_user", user_id=user_id)
            existing = await ctx.queries.many(conn, "webauthn_user_credentials", user_id=user_id)
        if user is None:
            raise InvalidToken("The token's user no longer exists")
        # One handle per user, so that an authenticator keeps one passkey per account.
        handle = (
            bytes(existing[0]["user_handle"])
            if existing
            else secrets.token_bytes(USER_HANDLE_BYTES)
        )
        challenge = new_challenge()
        options = registration_options(
            self._settings,
            challenge=challenge,
            user_handle=handle,
            user_name=user["username"],
            existing=existing,
        )
        ceremony = await self._ceremonies.begin(
            Ceremony(REGISTER, challenge, user_id=user_id, user_handle=handle)
        )
        return {"ceremony": ceremony, "publicKey": options}

    async def register(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        return await self._ctx.once(request, lambda: self._register(params, request))

    async def _register(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx, user_id = self._ctx, params["user_id"]
        ceremony = await self._ceremonies.take(params["ceremony"], REGISTER)
        if ceremony is None or ceremony.user_id != user_id or ceremony.user_handle is None:
            raise InvalidPasskey(
                "This registration is unknown, used or expired; start again",
                {"reason": "ceremony"},
            )
        try:
            verified = await verify_registration(
                self._settings, params["credential"], challenge=ceremony.challenge
            )
        except Refused as refused:
            raise InvalidPasskey(
                "The authenticator's answer did not verify", {"reason": "attestation"}
            ) from refused
        name = params["name"] or f"Passkey {datetime.now(UTC):%Y-%m-%d}"
        offered = params["credential"]["response"].get("transports", [])
        transports = sorted({t for t in offered if t in KNOWN_TRANSPORTS})
        recorded = Recorded()

        async def store(conn: asyncpg.Connection) -> dict[str, Any]:
            row = await ctx.queries.one(
                conn,
                "insert_webauthn_credential",
                user_id=user_id,
                credential_id=verified.credential_id,
                public_key=verified.credential_public_key,
                user_handle=ceremony.user_handle,
                sign_count=verified.sign_count,
                transports=transports,
                name=name,
                aaguid=verified.aaguid,
                backed_up=verified.credential_backed_up,
            )
            if row is None:
                raise Conflict("This passkey is registered already")
            await self._audit.record(
                conn,
                request,
                "webauthn.registered",
                user_id=user_id,
                data={"passkey_id": row["id"], "name": name},
                into=recorded,
            )
            return {"passkey": public_passkey(row)}

        result: dict[str, Any] = await run_once(ctx.pool, ctx.queries, request, store)
        await self._audit.publish(recorded)
        logger.info("user {} registered passkey {}", user_id, result["passkey"]["id"])
        return result

    async def list_passkeys(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx = self._ctx
        async with connection(ctx.pool) as conn:
            rows = await ctx.queries.many(
                conn, "list_webauthn_credentials", user_id=params["user_id"]
            )
        return {"passkeys": [public_passkey(row) for row in rows]}

    async def delete(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        if not 0 < params["target"] <= MAX_PASSKEY_ID:
            raise NotFound("Passkey not found")
        return await self._ctx.once(request, lambda: self._delete(params, request))

    async def _delete(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        ctx, user_id = self._ctx, params["user_id"]
        recorded = Recorded()

        async def remove(conn: asyncpg.Connection) -> dict[str, Any]:
            row = await ctx.queries.one(
                conn, "delete_webauthn_credential", id=params["target"], user_id=user_id
            )
            if row is None:
                raise NotFound("Passkey not found")
            await self._audit.record(
                conn,
                request,
                "webauthn.deleted",
                user_id=user_id,
                data={"passkey_id": row["id"], "name": row["name"]},
                into=recorded,
            )
            return {"deleted": row["id"]}

        result: dict[str, Any] = await run_once(ctx.pool, ctx.queries, request, remove)
        await self._audit.publish(recorded)
        return result
