"""The OpenID Connect provider end to end: one stack with a key pair and the
provider on, clients registered with the real ``gatehouse clients`` command,
and a person driving the login and consent pages over plain HTTP."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import asyncpg
import httpx
import pytest

from tests.conftest import RUN_ID, Servers, base_env
from tests.e2e.helpers import PASSWORD, register
from tests.e2e.stack import Stack, free_port
from tests.key_material import write_key_pair

ROOT = Path(__file__).resolve().parents[3]
REDIRECT = "http://127.0.0.1:8765/callback"
LOGOUT_REDIRECT = "http://127.0.0.1:8765/bye"
_HIDDEN = re.compile(r'name="request_id" value="([^"]+)"')


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str | None


@dataclass
class Provider:
    stack: Stack

    @property
    def issuer(self) -> str:
        return self.stack.env["PUBLIC_URL"]

    def endpoint(self, path: str) -> str:
        return f"{self.issuer}{path}"

    def add_client(self, name: str, *args: str) -> Client:
        """Register a client with ``gatehouse clients add`` (the operator's command)."""
        return add_client(self.stack, name, *args)


def run_cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "common.ops.cli", "clients", *args],
        env={"PATH": "/usr/bin:/bin", **stack.env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def add_client(stack: Stack, name: str, *args: str) -> Client:
    done = run_cli(stack, "add", name, *args)
    assert done.returncode == 0, done.stderr
    found = dict(re.findall(r"^(client_id|client_secret):\s+(\S+)$", done.stdout, re.M))
    return Client(found["client_id"], found.get("client_secret"))


def provider_env(servers: Servers, folder: Path, name: str) -> dict[str, str]:
    pair = write_key_pair(folder, "EdDSA")
    port = free_port()
    return {
        **base_env(servers, f"ghe2e-{RUN_ID}-{name}"),
        "JWT_ALGORITHM": "EdDSA",
        "JWT_PRIVATE_KEY_FILE": str(pair.private_path),
        "JWT_PUBLIC_KEY_FILE": str(pair.public_path),
        "OIDC_ENABLED": "true",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GATEWAY_PORT": str(port),
    }


@contextmanager
def running_provider(
    servers: Servers, tmp_path_factory: pytest.TempPathFactory, name: str, **extra: str
) -> Iterator[Provider]:
    """A stack with the provider on (``extra`` added to its environment), stopped after."""
    env = provider_env(servers, tmp_path_factory.mktemp(name), name) | extra
    stack = Stack(env, tmp_path_factory.mktemp(f"{name}-logs"))
    try:
        stack.start("user")
        stack.start("auth")
        stack.start("gateway", port=int(env["GATEWAY_PORT"]))
        stack.wait_for_instances("auth", 1)
        stack.wait_for_instances("user", 1)
        yield Provider(stack)
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def provider(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    with running_provider(servers, tmp_path_factory, "oidc") as running:
        yield running


@pytest.fixture(scope="session")
def web_app(provider: Provider) -> Client:
    """A confidential web app allowed the user scopes and an API scope."""
    return provider.add_client(
        "Team wiki",
        "--redirect-uri",
        REDIRECT,
        "--post-logout-redirect-uri",
        LOGOUT_REDIRECT,
        "--scope",
        "openid profile email offline_access api:read",
    )


@pytest.fixture
async def person(provider: Provider, unique: Callable[[str], str]) -> AsyncIterator[Person]:
    """A new account and a browser-like HTTP client (cookies, no redirects followed)."""
    name = unique("op")
    async with httpx.AsyncClient(base_url=provider.issuer, timeout=15) as http:
        created = await register(http, name)
        assert created.status_code == 201, created.text
        yield Person(http, name, created.json()["user"]["id"])


@dataclass
class Person:
    http: httpx.AsyncClient
    username: str
    user_id: int

    async def open(self, url: str) -> httpx.Response:
        return await self.http.get(url)

    async def log_in(self, page: httpx.Response, password: str = PASSWORD) -> httpx.Response:
        return await self.http.post(
            "/oauth/login",
            data={"request_id": request_id(page), "username": self.username, "password": password},
        )

    async def consent(self, page: httpx.Response, decision: str = "allow") -> httpx.Response:
        return await self.http.post(
            "/oauth/consent", data={"request_id": request_id(page), "decision": decision}
        )

    async def sign_in(self, authorize_url: str) -> str:
        """Open the authorize URL, log in, consent when asked: the app's callback URL."""
        page = await self.open(authorize_url)
        if page.status_code == 200 and 'action="/oauth/login"' in page.text:
            page = await self.log_in(page)
        if page.status_code == 200 and 'action="/oauth/consent"' in page.text:
            page = await self.consent(page)
        assert page.status_code in (302, 303), page.text
        return page.headers["location"]


def request_id(page: httpx.Response) -> str:
    found = _HIDDEN.search(page.text)
    assert found, page.text
    return found.group(1)


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge), computed here rather than by the code under test."""
    verifier = base64.urlsafe_b64encode(os.urandom(48)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def authorize_url(provider: Provider, client: Client, **overrides: str | None) -> str:
    """An authorization request; an override of None leaves that parameter out."""
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid profile email offline_access",
        "state": "st-" + uuid.uuid4().hex[:8],
        "nonce": "n-" + uuid.uuid4().hex[:8],
        "code_challenge_method": "S256",
        **overrides,
    }
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{provider.endpoint('/oauth/authorize')}?{query}"


def callback_params(location: str) -> dict[str, str]:
    assert location.startswith(REDIRECT), location
    return dict(parse_qsl(urlsplit(location).query))


async def exchange(
    provider: Provider, client: Client, code: str, verifier: str, **overrides: str
) -> httpx.Response:
    """POST the code to the token endpoint with client_secret_basic."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        **overrides,
    }
    auth = (client.client_id, client.client_secret) if client.client_secret else None
    async with httpx.AsyncClient(timeout=15) as http:
        if auth is None:
            form["client_id"] = client.client_id
            return await http.post(provider.endpoint("/oauth/token"), data=form)
        return await http.post(provider.endpoint("/oauth/token"), data=form, auth=auth)


async def signed_in_tokens(
    provider: Provider, client: Client, person: Person, **overrides: str | None
) -> dict[str, Any]:
    """A full code flow by hand: the token endpoint's answer."""
    verifier, challenge = pkce_pair()
    location = await person.sign_in(
        authorize_url(provider, client, code_challenge=challenge, **overrides)
    )
    answer = await exchange(provider, client, callback_params(location)["code"], verifier)
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


async def client_post(
    provider: Provider, client: Client, path: str, form: dict[str, str]
) -> httpx.Response:
    """A client-authenticated form post (client_secret_basic)."""
    assert client.client_secret is not None
    async with httpx.AsyncClient(timeout=15) as http:
        return await http.post(
            provider.endpoint(path), data=form, auth=(client.client_id, client.client_secret)
        )


async def introspect(provider: Provider, client: Client, token: str) -> dict[str, Any]:
    answer = await client_post(provider, client, "/oauth/introspect", {"token": token})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def refusals(database_url: str, request_id: str) -> list[dict[str, Any]]:
    """The oauth.refused audit rows written for one request id."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT data FROM audit_events WHERE type = 'oauth.refused' AND request_id = $1",
            request_id,
        )
    finally:
        await conn.close()
    return [
        json.loads(row["data"]) if isinstance(row["data"], str) else row["data"] for row in rows
    ]
