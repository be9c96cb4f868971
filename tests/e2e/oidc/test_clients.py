"""The client registry: ``gatehouse clients`` and the admin API, public clients,
and a provider that refuses to start without a key pair."""

from __future__ import annotations

import subprocess
import sys

import asyncpg
import httpx
import pytest

from tests.conftest import Servers, base_env
from tests.e2e.helpers import assert_error, bearer, login
from tests.e2e.oidc.conftest import (
    ROOT,
    Client,
    Person,
    Provider,
    authorize_url,
    callback_params,
    exchange,
    pkce_pair,
    run_cli,
)


async def client_credentials(provider: Provider, client_id: str, secret: str) -> int:
    async with httpx.AsyncClient(timeout=15) as http:
        answer = await http.post(
            provider.endpoint("/oauth/token"),
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
        )
    return answer.status_code


async def test_cli_add_list_show_rotate_remove(provider: Provider) -> None:
    app = provider.add_client(
        "Billing", "--redirect-uri", "https://billing.example/cb", "--scope", "billing:read"
    )
    assert app.client_secret is not None
    listed = run_cli(provider.stack, "list")
    assert app.client_id in listed.stdout
    assert "confidential" in listed.stdout
    shown = run_cli(provider.stack, "show", app.client_id)
    assert "redirect_uris: https://billing.example/cb" in shown.stdout
    assert app.client_secret not in shown.stdout + listed.stdout
    assert await client_credentials(provider, app.client_id, app.client_secret) == 200

    rotated = run_cli(provider.stack, "rotate-secret", app.client_id)
    new_secret = rotated.stdout.split()[-1]
    assert await client_credentials(provider, app.client_id, app.client_secret) == 401
    assert await client_credentials(provider, app.client_id, new_secret) == 200

    assert run_cli(provider.stack, "remove", app.client_id).returncode == 0
    gone = run_cli(provider.stack, "show", app.client_id)
    assert gone.returncode == 1
    assert "No such client" in gone.stderr


@pytest.mark.parametrize(
    "uri",
    ["http://app.example/cb", "https://app.example/cb#frag", "javascript:alert(1)", "relative/cb"],
)
def test_cli_refuses_unsafe_redirect_uris(provider: Provider, uri: str) -> None:
    done = run_cli(provider.stack, "add", "Bad", "--redirect-uri", uri)
    assert done.returncode == 1
    assert "redirect URI" in done.stderr


async def test_public_client_uses_pkce_without_a_secret(provider: Provider, person: Person) -> None:
    spa = provider.add_client(
        "SPA",
        "--public",
        "--redirect-uri",
        "http://127.0.0.1:8765/callback",
        "--scope",
        "openid api:read",
    )
    assert spa.client_secret is None
    verifier, challenge = pkce_pair()
    location = await person.sign_in(
        authorize_url(provider, spa, code_challenge=challenge, scope="openid")
    )
    answer = await exchange(provider, spa, callback_params(location)["code"], verifier)
    assert answer.status_code == 200, answer.text
    assert "refresh_token" not in answer.json()  # no offline_access asked
    async with httpx.AsyncClient(timeout=15) as http:
        refused = await http.post(
            provider.endpoint("/oauth/token"),
            data={"grant_type": "client_credentials", "client_id": spa.client_id},
        )
    assert refused.status_code == 400
    assert refused.json()["error"] == "unauthorized_client"


async def test_admin_api_requires_the_admin_role(provider: Provider, person: Person) -> None:
    token = (await login(person.http, person.username)).json()["token"]
    refused = await person.http.get("/api/admin/clients", headers=bearer(token))
    assert_error(refused, 403, "forbidden")

    conn = await asyncpg.connect(provider.stack.env["DATABASE_URL"])
    try:
        await conn.execute(
            "INSERT INTO user_roles (user_id, role) VALUES ($1, 'admin')", person.user_id
        )
    finally:
        await conn.close()
    made = await person.http.post(
        "/api/admin/clients",
        headers=bearer(token),
        json={"name": "Admin-made", "redirect_uris": ["https://admin.example/cb"]},
    )
    assert made.status_code == 201, made.text
    client_id, secret = made.json()["client"]["client_id"], made.json()["client_secret"]
    assert made.json()["client"]["public"] is False
    assert secret
    listed = await person.http.get("/api/admin/clients", headers=bearer(token))
    assert client_id in [c["client_id"] for c in listed.json()["clients"]]
    shown = await person.http.get(f"/api/admin/clients/{client_id}", headers=bearer(token))
    assert shown.json()["client"]["redirect_uris"] == ["https://admin.example/cb"]
    rotated = await person.http.post(
        f"/api/admin/clients/{client_id}/secret", headers=bearer(token)
    )
    assert rotated.status_code == 200
    assert rotated.json()["client_secret"] != secret
    bad = await person.http.post(
        "/api/admin/clients",
        headers=bearer(token),
        json={"name": "Bad", "redirect_uris": ["http://evil.example/cb"]},
    )
    assert_error(bad, 400, "validation_error")
    removed = await person.http.delete(f"/api/admin/clients/{client_id}", headers=bearer(token))
    assert removed.status_code == 204
    missing = await person.http.get(f"/api/admin/clients/{client_id}", headers=bearer(token))
    assert_error(missing, 404, "not_found")


def test_hs256_provider_refuses_to_start_and_says_why(servers: Servers) -> None:
    env = {**base_env(servers, "ghe2e-oidc-hs256"), "OIDC_ENABLED": "true", "PORT": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "gateway_app"],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert "OIDC_ENABLED=true needs JWT_ALGORITHM=EdDSA or RS256" in done.stdout + done.stderr


async def test_disabled_provider_serves_no_oauth_route(
    client: httpx.AsyncClient, web_app: Client
) -> None:
    """The shared stack runs without OIDC_ENABLED: no discovery, no /oauth/*."""
    for path in ("/.well-known/openid-configuration", "/oauth/authorize"):
        assert_error(await client.get(path), 404, "not_found")
    assert_error(await client.post("/oauth/token", data={"a": "b"}), 404, "not_found")
