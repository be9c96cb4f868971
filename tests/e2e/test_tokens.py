"""Bearer tokens over HTTP: every kind of bad token is a 401, sessions survive Redis loss."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from redis.asyncio import Redis

from tests.e2e.helpers import (
    PASSWORD,
    TEST_KID,
    assert_error,
    b64url,
    b64url_decode,
    bearer,
    change_password,
    claims_of,
    make_token,
    new_account,
    profile,
    session_id,
)
from tests.e2e.stack import Stack
from tests.key_material import secret_kid

OTHER_SECRET = "another-secret-" + "y" * 40
# Far above any session id this run creates, still inside PostgreSQL's integer.
NEVER_A_SESSION = 2**31 - 7


def with_payload(token: str, **changes: Any) -> str:
    """The same header and signature around a changed payload."""
    header, payload, signature = token.split(".")
    claims = json.loads(b64url_decode(payload)) | changes
    return ".".join([header, b64url(json.dumps(claims).encode()), signature])


@pytest.fixture
async def account(
    client: httpx.AsyncClient, unique: Callable[[str], str]
) -> tuple[dict[str, Any], str]:
    return await new_account(client, unique("tokens"))


def bad_tokens(user: dict[str, Any], token: str) -> dict[str, str]:
    uid, sid = user["id"], session_id(token)
    now = int(time.time())
    return {
        "forged-sub": with_payload(token, sub=str(uid + 1)),
        "forged-exp": with_payload(token, exp=now + 10 * 365 * 86400),
        "forged-sid": with_payload(token, sid=str(sid + 1)),
        "other-key": make_token(user_id=uid, session=sid, secret=OTHER_SECRET),
        "other-key-own-kid": make_token(
            user_id=uid, session=sid, secret=OTHER_SECRET, kid=secret_kid(OTHER_SECRET)
        ),
        "missing-kid": make_token(user_id=uid, session=sid, kid=None),
        "unknown-kid": make_token(user_id=uid, session=sid, kid="not-a-known-key"),
        "hs512-right-key": make_token(user_id=uid, session=sid, algorithm="HS512"),
        "alg-none": make_token(user_id=uid, session=sid, secret=None, algorithm="none"),
        "alg-none-reusing-claims": ".".join(
            [b64url(json.dumps({"alg": "none", "kid": TEST_KID}).encode()), token.split(".")[1], ""]
        ),
        "expired": make_token(user_id=uid, session=sid, iat=now - 7200, exp=now - 3600),
        "expired-one-second": make_token(user_id=uid, session=sid, iat=now - 60, exp=now - 1),
        "missing-sid": make_token(user_id=uid, session=None),
        "missing-sub": make_token(user_id=None, session=sid),
        "missing-exp": make_token(user_id=uid, session=sid, exp=None),
        "missing-iss": make_token(user_id=uid, session=sid, iss=None),
        "wrong-iss": make_token(user_id=uid, session=sid, iss="someone-else"),
        "missing-aud": make_token(user_id=uid, session=sid, aud=None),
        "wrong-aud": make_token(user_id=uid, session=sid, aud="someone-else"),
        "missing-jti": make_token(user_id=uid, session=sid, jti=None),
        "jti-not-a-string": make_token(user_id=uid, session=sid, jti=12345),
        "sid-not-a-number": make_token(user_id=uid, session="abc"),
        "sub-not-a-number": make_token(user_id="abc", session=sid),
        "garbage": "garbage",
        "three-garbage-parts": "a.b.c",
        "truncated": token[:-5],
        "signature-dropped": token.rsplit(".", 1)[0] + ".",
        "never-a-session": make_token(user_id=uid, session=NEVER_A_SESSION),
    }


BAD_TOKEN_KINDS = list(bad_tokens({"id": 1}, make_token(user_id=1, session=1)))


@pytest.mark.parametrize("kind", BAD_TOKEN_KINDS)
async def test_bad_token_is_refused(
    client: httpx.AsyncClient, account: tuple[dict[str, Any], str], kind: str
):
    user, token = account
    bad = bad_tokens(user, token)[kind]
    assert bad != token
    assert_error(await profile(client, bad), 401, "invalid_token")
    answer = await client.put(
        "/api/auth/change-password",
        json={"currentPassword": PASSWORD, "newPassword": "n3w-Passw0rd"},
        headers=bearer(bad),
    )
    assert_error(answer, 401, "invalid_token")
    # The real token still works, and the password did not change.
    assert (await profile(client, token)).status_code == 200


async def test_expired_token_says_so(
    client: httpx.AsyncClient, account: tuple[dict[str, Any], str]
):
    user, token = account
    now = int(time.time())
    expired = make_token(user_id=user["id"], session=session_id(token), iat=now - 90, exp=now - 30)
    body = assert_error(await profile(client, expired), 401, "invalid_token")
    assert "expired" in body["error"]["message"].lower()


async def test_valid_token_and_lowercase_scheme(
    client: httpx.AsyncClient, account: tuple[dict[str, Any], str]
):
    user, token = account
    claims = claims_of(token)
    assert claims["sub"] == str(user["id"])
    assert claims["iss"] == "gatehouse"
    assert claims["aud"] == "gatehouse"
    assert isinstance(claims["jti"], str)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "kid": TEST_KID, "typ": "JWT"}
    assert claims["exp"] > time.time()
    answer = await client.get("/api/users/profile", headers={"Authorization": f"bearer {token}"})
    assert answer.status_code == 200
    assert answer.json()["user"]["id"] == user["id"]


async def test_token_rebuilt_with_the_right_key_is_accepted(
    client: httpx.AsyncClient, account: tuple[dict[str, Any], str]
):
    """The control for the forgeries above: same claims, right key, live session -> 200."""
    user, token = account
    rebuilt = make_token(user_id=user["id"], session=session_id(token))
    answer = await profile(client, rebuilt)
    assert answer.status_code == 200
    assert answer.json()["user"]["id"] == user["id"]


# ----------------------------------------------------------------------------
# The Redis mirror of sessions: PostgreSQL decides when Redis has lost a key


def session_key(stack: Stack, token: str) -> str:
    return stack.keys.session(session_id(token))


async def test_live_session_survives_losing_its_redis_key(
    client: httpx.AsyncClient,
    stack: Stack,
    redis: Redis,
    account: tuple[dict[str, Any], str],
):
    user, token = account
    key = session_key(stack, token)
    owner = str(user["id"]).encode()
    assert await redis.get(key) == owner
    assert await redis.delete(key) == 1

    answer = await profile(client, token)
    assert answer.status_code == 200
    assert answer.json()["user"]["id"] == user["id"]
    assert await redis.get(key) == owner
    # Repopulated to expire with the session (REFRESH_EXPIRES_IN, 30 days), not forever.
    assert 0 < await redis.ttl(key) <= 30 * 86400 + 2

    # And the next call is answered from the mirror again.
    assert (await profile(client, token)).status_code == 200


async def test_ended_session_stays_ended_after_losing_its_redis_key(
    client: httpx.AsyncClient,
    stack: Stack,
    redis: Redis,
    account: tuple[dict[str, Any], str],
):
    _, token = account
    key = session_key(stack, token)
    assert (await change_password(client, token, PASSWORD, "n3w-Passw0rd")).status_code == 200
    assert await redis.get(key) == b"0"
    assert_error(await profile(client, token), 401, "invalid_token")

    assert await redis.delete(key) == 1
    assert_error(await profile(client, token), 401, "invalid_token")
    assert await redis.get(key) == b"0"
    assert await redis.ttl(key) > 0
    assert_error(await profile(client, token), 401, "invalid_token")


async def test_session_of_another_user_is_refused_on_fallback(
    client: httpx.AsyncClient,
    stack: Stack,
    redis: Redis,
    account: tuple[dict[str, Any], str],
    unique: Callable[[str], str],
):
    """A validly signed token pairing one user's id with another's session."""
    _, token = account
    other, _ = await new_account(client, unique("other"))
    mixed = make_token(user_id=other["id"], session=session_id(token))
    await redis.delete(session_key(stack, token))
    assert_error(await profile(client, mixed), 401, "invalid_token")


async def test_a_live_session_of_another_user_is_refused(
    client: httpx.AsyncClient,
    account: tuple[dict[str, Any], str],
    unique: Callable[[str], str],
):
    """Signed for user B but naming user A's live session: the mirror names its owner."""
    _, token_of_a = account
    user_b, _ = await new_account(client, unique("other"))
    borrowed = make_token(user_id=user_b["id"], session=session_id(token_of_a))
    assert_error(await profile(client, borrowed), 401, "invalid_token")
