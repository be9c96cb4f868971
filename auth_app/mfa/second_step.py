"""``POST /api/auth/mfa/verify``: the second step of a login, which answers what login answers.

The ``mfa_token`` names the pending login (auth_app/mfa/pending.py), so the
code is checked against that account's factor only: another account's code
proves nothing. The token is spent in the transaction that starts the
session, and only once the code is right, so a wrong code (throttled, 401)
may be followed by the right one, and two right ones race for one session.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from auth_app.mfa.factors import Proof, SecondFactor
from auth_app.signin import SignIn
from common.accounts.audit import Audit, Recorded
from common.errors import InvalidToken
from common.rpc.message import Request

EXPIRED = "Unknown or expired mfa_token; log in again"


class SecondStep:
    def __init__(self, signin: SignIn, factor: SecondFactor, audit: Audit) -> None:
        self._signin = signin
        self._factor = factor
        self._audit = audit

    async def verify(self, params: dict[str, Any], request: Request) -> dict[str, Any]:
        mfa_token = params["mfa_token"]
        pending = await self._signin.pending.peek(mfa_token)
        if pending is None or pending.purpose != "verify":
            raise InvalidToken(EXPIRED)
        user = await self._signin.user(pending.user_id)
        proofs: list[Proof] = []

        async def spend(conn: asyncpg.Connection, recorded: Recorded) -> None:
            proof = await self._factor.prove(
                conn,
                request,
                pending.user_id,
                code=params.get("code"),
                recovery_code=params.get("recovery_code"),
                into=recorded,
            )
            if await self._signin.pending.take(mfa_token) is None:
                raise InvalidToken(EXPIRED)
            await self._audit.record(
                conn,
                request,
                "mfa.verified",
                user_id=pending.user_id,
                data={"method": proof.method},
                into=recorded,
            )
            proofs.append(proof)

        async with self._factor.attempt(request, pending.user_id):
            answer = await self._signin.complete(
                request, user, amr=(*pending.amr, "otp", "mfa"), within=spend
            )
        left = proofs[0].recovery_codes_left if proofs else None
        if left is not None:
            answer["recovery_codes_left"] = left
        return answer
