"""Key pairs end to end: JWKS read by a standard library, forged tokens refused, rotation.

The gateway of these stacks runs with APP_ENV=production, the public key only
and no JWT_SECRET: it verifies every token without holding anything that signs.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import signal
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from common.config import DEVELOPMENT_JWT_SECRET
from tests.conftest import RUN_ID, Servers, base_env
from tests.e2e.helpers import (
    assert_error,
    b64url,
    make_token,
    new_account,
    profile,
    session_id,
)
from tests.e2e.stack import Stack
from tests.key_material import KeyPair, secret_kid, write_key_pair

JWKS_PATH = "/.well-known/jwks.json"
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def worker_env(current: KeyPair, *previous: KeyPair) -> dict[str, str]:
    """The auth (and user) worker: signs with the private key."""
    return {
        "JWT_ALGORITHM": current.algorithm,
        "JWT_PRIVATE_KEY_FILE": str(current.private_path),
        "JWT_PUBLIC_KEY_FILE": str(current.public_path),
        "JWT_PREVIOUS_PUBLIC_KEY_FILES": ",".join(str(p.public_path) for p in previous),
        "JWT_SECRET": "",
    }


def gateway_env(current: KeyPair, *previous: KeyPair) -> dict[str, str]:
    """The gateway: public keys only, in production, so nothing lets it sign."""
    return {
        "APP_ENV": "production",
        "JWT_ALGORITHM": current.algorithm,
        "JWT_PUBLIC_KEY_FILE": str(current.public_path),
        "JWT_PREVIOUS_PUBLIC_KEY_FILES": ",".join(str(p.public_path) for p in previous),
        "JWT_SECRET": "",
    }


def restart(stack: Stack, service: str, env: dict[str, str]) -> None:
    """Stop the service's running process (SIGTERM, as a deploy does) and start a new one."""
    for process in stack.processes:
        if process.service == service and process.running():
            process.signal(signal.SIGTERM)
            process.wait(15)
    stack.start(service, **env)
    if service != "gateway":
        stack.wait_for_instances(service, 1)


def start_with_keys(stack: Stack, current: KeyPair, *previous: KeyPair) -> Stack:
    stack.start("user", **worker_env(current, *previous))
    stack.start("auth", **worker_env(current, *previous))
    stack.start("gateway", **gateway_env(current, *previous))
    stack.wait_for_instances("user", 1)
    stack.wait_for_instances("auth", 1)
    return stack


@dataclass
class KeyedStack:
    stack: Stack
    pair: KeyPair
    # A key of the same type that the stack has never seen.
    stranger: KeyPair
    # A key of the other type, to claim our kid with the other algorithm.
    other_type: KeyPair


@pytest.fixture(scope="module", params=["EdDSA", "RS256"])
def keyed(
    request: pytest.FixtureRequest, servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KeyedStack]:
    algorithm: str = request.param
    directory = tmp_path_factory.mktemp("keys")
    keyed = KeyedStack(
        Stack(
            base_env(servers, f"ghe2e-{RUN_ID}-keys-{uuid.uuid4().hex[:8]}"),
            tmp_path_factory.mktemp("keyed-logs"),
        ),
        pair=write_key_pair(directory, algorithm),
        stranger=write_key_pair(directory, algorithm),
        other_type=write_key_pair(directory, "RS256" if algorithm == "EdDSA" else "EdDSA"),
    )
    try:
        start_with_keys(keyed.stack, keyed.pair)
        yield keyed
    finally:
        keyed.stack.stop()


@pytest.fixture
async def keyed_client(keyed: KeyedStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=keyed.stack.url, timeout=15) as http:
        yield http


@pytest.fixture
async def keyed_account(
    keyed_client: httpx.AsyncClient, unique: Callable[[str], str]
) -> tuple[dict[str, Any], str]:
    return await new_account(keyed_client, unique("keys"))


def signed(pair: KeyPair, user: dict[str, Any], token: str, **changes: Any) -> str:
    """A token for the account's session signed with ``pair``'s private key (kid: ours)."""
    options: dict[str, Any] = {"kid": pair.kid} | changes
    return make_token(
        user_id=user["id"],
        session=session_id(token),
        secret=pair.private_key,
        algorithm=pair.algorithm,
        **options,
    )


def hs256_by_hand(payload: dict[str, Any], secret: bytes, kid: str) -> str:
    """HS256 keyed with arbitrary bytes: PyJWT refuses a PEM public key as an HMAC secret."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64url(json.dumps(payload).encode())
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(mac)}"


def forged_tokens(keyed: KeyedStack, user: dict[str, Any], token: str) -> dict[str, str]:
    ours, stranger = keyed.pair, keyed.stranger
    claims = jwt.decode(token, options={"verify_signature": False})
    uid, sid = user["id"], session_id(token)
    return {
        "hs256-keyed-with-the-public-key": hs256_by_hand(claims, ours.public_pem, ours.kid),
        "hs256-keyed-with-the-public-key-stripped": hs256_by_hand(
            claims, ours.public_pem.strip(), ours.kid
        ),
        "hs256-keyed-with-the-jwk-json": hs256_by_hand(
            claims, json.dumps(ours.public_jwk).encode(), ours.kid
        ),
        "hs256-with-the-test-secret": make_token(user_id=uid, session=sid),
        "hs256-with-the-development-secret": make_token(
            user_id=uid,
            session=sid,
            secret=DEVELOPMENT_JWT_SECRET,
            kid=secret_kid(DEVELOPMENT_JWT_SECRET),
        ),
        "hs256-claiming-our-kid": make_token(user_id=uid, session=sid, kid=ours.kid),
        "alg-none-with-our-kid": make_token(
            user_id=uid, session=sid, secret=None, algorithm="none", kid=ours.kid
        ),
        "unknown-kid": signed(stranger, user, token, kid=stranger.kid),
        "stranger-key-claiming-our-kid": signed(stranger, user, token),
        "other-key-type-claiming-our-kid": signed(keyed.other_type, user, token, kid=ours.kid),
        "missing-kid": signed(ours, user, token, kid=None),
        "missing-iss": signed(ours, user, token, iss=None),
        "wrong-iss": signed(ours, user, token, iss="someone-else"),
        "missing-aud": signed(ours, user, token, aud=None),
        "wrong-aud": signed(ours, user, token, aud="another-service"),
        "missing-jti": signed(ours, user, token, jti=None),
        "tampered-sub": ".".join(
            [
                token.split(".")[0],
                b64url(json.dumps(claims | {"sub": str(uid + 1)}).encode()),
                token.split(".")[2],
            ]
        ),
    }


FORGED_KINDS = [
    "hs256-keyed-with-the-public-key",
    "hs256-keyed-with-the-public-key-stripped",
    "hs256-keyed-with-the-jwk-json",
    "hs256-with-the-test-secret",
    "hs256-with-the-development-secret",
    "hs256-claiming-our-kid",
    "alg-none-with-our-kid",
    "unknown-kid",
    "stranger-key-claiming-our-kid",
    "other-key-type-claiming-our-kid",
    "missing-kid",
    "missing-iss",
    "wrong-iss",
    "missing-aud",
    "wrong-aud",
    "missing-jti",
    "tampered-sub",
]


@pytest.mark.parametrize("kind", FORGED_KINDS)
async def test_forged_token_is_refused(
    keyed: KeyedStack,
    keyed_client: httpx.AsyncClient,
    keyed_account: tuple[dict[str, Any], str],
    kind: str,
) -> None:
    user, token = keyed_account
    forged = forged_tokens(keyed, user, token)
    assert sorted(forged) == sorted(FORGED_KINDS)

    assert_error(await profile(keyed_client, forged[kind]), 401, "invalid_token")
    assert (await profile(keyed_client, token)).status_code == 200


async def test_a_token_signed_with_our_key_and_every_claim_is_accepted(
    keyed: KeyedStack,
    keyed_client: httpx.AsyncClient,
    keyed_account: tuple[dict[str, Any], str],
) -> None:
    """The control for the forgeries: our private key, our kid, the live session -> 200."""
    user, token = keyed_account
    rebuilt = signed(keyed.pair, user, token)

    answer = await profile(keyed_client, rebuilt)
    assert answer.status_code == 200, answer.text
    assert answer.json()["user"]["id"] == user["id"]


async def test_issued_tokens_name_the_key_and_the_algorithm(
    keyed: KeyedStack, keyed_account: tuple[dict[str, Any], str]
) -> None:
    _, token = keyed_account

    header = jwt.get_unverified_header(token)
    assert header == {"alg": keyed.pair.algorithm, "kid": keyed.pair.kid, "typ": "JWT"}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert {"iss", "aud", "jti", "sub", "sid", "iat", "exp"} <= set(claims)


async def test_pyjwt_verifies_our_token_from_the_jwks_alone(
    keyed: KeyedStack,
    keyed_client: httpx.AsyncClient,
    keyed_account: tuple[dict[str, Any], str],
) -> None:
    user, token = keyed_account
    jwks = (await keyed_client.get(JWKS_PATH)).json()

    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(
        token,
        key,
        algorithms=[keyed.pair.algorithm],
        audience="gatehouse",
        issuer="gatehouse",
        options={"require": ["exp", "iat", "sub", "jti"]},
    )
    assert claims["sub"] == str(user["id"])
    # PyJWKClient: what a third-party service runs, fetching the URL itself.
    client = jwt.PyJWKClient(f"{keyed.stack.url}{JWKS_PATH}", cache_jwk_set=False)
    signing_key = await asyncio.to_thread(client.get_signing_key_from_jwt, token)
    assert signing_key.key_id == keyed.pair.kid
    verified = jwt.decode(
        token, signing_key, algorithms=[keyed.pair.algorithm], audience="gatehouse"
    )
    assert verified["sid"] == str(session_id(token))


async def test_jwks_publishes_the_public_key_only(
    keyed: KeyedStack, keyed_client: httpx.AsyncClient
) -> None:
    answer = await keyed_client.get(JWKS_PATH)

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.headers["cache-control"] == "public, max-age=300"
    (key,) = answer.json()["keys"]
    assert key == {
        **keyed.pair.public_jwk,
        "kid": keyed.pair.kid,
        "alg": keyed.pair.algorithm,
        "use": "sig",
    }
    assert not PRIVATE_JWK_MEMBERS & set(key)


async def test_jwks_of_a_shared_secret_stack_is_empty(client: httpx.AsyncClient) -> None:
    answer = await client.get(JWKS_PATH)

    assert answer.status_code == 200
    assert answer.json() == {"keys": []}
    assert answer.headers["cache-control"] == "public, max-age=300"


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc (Linux)")
def test_the_gateway_runs_without_any_signing_secret(keyed: KeyedStack) -> None:
    """What the gateway process was given: no private key file, no JWT_SECRET."""
    environ = dict(
        item.split("=", 1)
        for item in Path(f"/proc/{keyed.stack.gateway.pid}/environ").read_text().split("\0")
        if "=" in item
    )

    assert environ["APP_ENV"] == "production"
    assert "JWT_PRIVATE_KEY_FILE" not in environ
    assert environ["JWT_SECRET"] == ""
    assert b"PRIVATE KEY" not in Path(environ["JWT_PUBLIC_KEY_FILE"]).read_bytes()


# ----------------------------------------------------------------------------
# Start-up refusals and rotation


@pytest.mark.parametrize(
    ("service", "variable"),
    [("gateway", "JWT_PUBLIC_KEY_FILE"), ("auth", "JWT_PRIVATE_KEY_FILE")],
)
def test_a_process_with_a_missing_key_file_exits_naming_the_variable(
    stack_factory: Callable[..., Stack], tmp_path: Path, service: str, variable: str
) -> None:
    stack = stack_factory(JWT_ALGORITHM="EdDSA", **{variable: str(tmp_path / "absent.pem")})
    process = stack.start(service, wait=False)

    assert process.wait(30) == 2
    log = process.log.read_text()
    assert f"configuration error: {variable} (" in log
    assert "cannot be read" in log
    assert "Traceback" not in log


def test_an_auth_worker_with_a_key_of_the_wrong_type_exits(
    stack_factory: Callable[..., Stack], tmp_path: Path
) -> None:
    rsa = write_key_pair(tmp_path, "RS256")
    stack = stack_factory(JWT_ALGORITHM="EdDSA", JWT_PRIVATE_KEY_FILE=str(rsa.private_path))
    process = stack.start("auth", wait=False)

    assert process.wait(30) == 2
    assert "JWT_PRIVATE_KEY_FILE" in process.log.read_text()
    assert "JWT_ALGORITHM=EdDSA" in process.log.read_text()


@pytest.mark.timeout(240)
async def test_rotation_keeps_the_old_key_valid_then_not(
    stack_factory: Callable[..., Stack], tmp_path: Path, unique: Callable[[str], str]
) -> None:
    key_a, key_b = write_key_pair(tmp_path, "EdDSA"), write_key_pair(tmp_path, "EdDSA")
    stack = start_with_keys(stack_factory(), key_a)

    async def jwks_kids() -> list[str]:
        async with httpx.AsyncClient(base_url=stack.url, timeout=15) as http:
            return [key["kid"] for key in (await http.get(JWKS_PATH)).json()["keys"]]

    async def profile_status(token: str) -> int:
        async with httpx.AsyncClient(base_url=stack.url, timeout=15) as http:
            return (await profile(http, token)).status_code

    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as http:
        _, token_a = await new_account(http, unique("rotate"))
    assert jwt.get_unverified_header(token_a)["kid"] == key_a.kid
    assert await jwks_kids() == [key_a.kid]

    # Step 1 (the README's order): gateways accept B and A, then workers sign with B.
    restart(stack, "gateway", gateway_env(key_b, key_a))
    restart(stack, "auth", worker_env(key_b, key_a))
    assert await profile_status(token_a) == 200
    assert await jwks_kids() == [key_b.kid, key_a.kid]
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as http:
        _, token_b = await new_account(http, unique("rotate"))
    assert jwt.get_unverified_header(token_b)["kid"] == key_b.kid

    # Step 2: A removed; its tokens are refused although their session is live.
    restart(stack, "auth", worker_env(key_b))
    restart(stack, "gateway", gateway_env(key_b))
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as http:
        body = assert_error(await profile(http, token_a), 401, "invalid_token")
    assert "expired" not in body["error"]["message"].lower()
    assert await profile_status(token_b) == 200
    assert await jwks_kids() == [key_b.kid]
