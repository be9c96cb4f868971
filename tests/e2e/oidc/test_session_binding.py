"""Tokens an app holds end with the Gatehouse session they came from, at once:
RP-initiated logout, a password change, withdrawn consent, a removed client."""

from __future__ import annotations

import httpx

from tests.e2e.helpers import PASSWORD, bearer, change_password, login
from tests.e2e.oidc.conftest import (
    LOGOUT_REDIRECT,
    Client,
    Person,
    Provider,
    authorize_url,
    callback_params,
    client_post,
    introspect,
    pkce_pair,
    run_cli,
    signed_in_tokens,
)


async def userinfo(provider: Provider, access_token: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=15) as http:
        return await http.get(provider.endpoint("/oauth/userinfo"), headers=bearer(access_token))


async def assert_ended(provider: Provider, client: Client, tokens: dict[str, str]) -> None:
    assert await introspect(provider, client, tokens["access_token"]) == {"active": False}
    assert await introspect(provider, client, tokens["refresh_token"]) == {"active": False}
    assert (await userinfo(provider, tokens["access_token"])).status_code == 401
    refreshed = await client_post(
        provider,
        client,
        "/oauth/token",
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"


async def test_rp_initiated_logout_ends_the_session_and_its_app_tokens(
    provider: Provider, web_app: Client, person: Person
) -> None:
    tokens = await signed_in_tokens(provider, web_app, person)
    assert (await userinfo(provider, tokens["access_token"])).status_code == 200
    logout = await person.http.get(
        "/oauth/logout",
        params={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": LOGOUT_REDIRECT,
            "state": "bye-1",
        },
    )
    assert logout.status_code == 303, logout.text
    assert logout.headers["location"] == f"{LOGOUT_REDIRECT}?state=bye-1"
    await assert_ended(provider, web_app, tokens)
    # The browser is logged out at the provider too: the next sign-in asks again.
    _, challenge = pkce_pair()
    page = await person.open(authorize_url(provider, web_app, code_challenge=challenge))
    assert 'action="/oauth/login"' in page.text


async def test_logout_redirect_must_be_registered(
    provider: Provider, web_app: Client, person: Person
) -> None:
    tokens = await signed_in_tokens(provider, web_app, person)
    answer = await person.http.get(
        "/oauth/logout",
        params={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "http://127.0.0.1:8765/evil",
        },
    )
    assert answer.status_code == 400
    assert "location" not in answer.headers
    assert (await introspect(provider, web_app, tokens["access_token"]))["active"] is True
    # A bare link logs no one out: it asks first.
    confirm = await person.http.get("/oauth/logout")
    assert confirm.status_code == 200
    assert 'id="oauth-logout"' in confirm.text
    assert (await introspect(provider, web_app, tokens["access_token"]))["active"] is True


async def test_password_change_ends_app_tokens_at_once(
    provider: Provider, web_app: Client, person: Person
) -> None:
    tokens = await signed_in_tokens(provider, web_app, person)
    own = (await login(person.http, person.username)).json()["token"]
    changed = await change_password(person.http, own, PASSWORD, "n3w-secret-pass")
    assert changed.status_code == 200, changed.text
    await assert_ended(provider, web_app, tokens)


async def test_consent_is_remembered_and_revocable_from_the_account(
    provider: Provider, web_app: Client, person: Person
) -> None:
    tokens = await signed_in_tokens(provider, web_app, person)
    # Logged in at the provider and consented: straight back to the app.
    _, challenge = pkce_pair()
    again = await person.open(authorize_url(provider, web_app, code_challenge=challenge))
    assert again.status_code == 302
    assert "code" in callback_params(again.headers["location"])
    # A wider scope set asks again.
    wider = await person.open(
        authorize_url(provider, web_app, code_challenge=challenge, scope="openid api:read")
    )
    assert wider.status_code == 200
    assert 'action="/oauth/consent"' in wider.text

    own = (await login(person.http, person.username)).json()["token"]
    apps = await person.http.get("/api/account/apps", headers=bearer(own))
    assert apps.status_code == 200
    assert [app["client_id"] for app in apps.json()["apps"]] == [web_app.client_id]
    forget = await person.http.delete(f"/api/account/apps/{web_app.client_id}", headers=bearer(own))
    assert forget.status_code == 204
    await assert_ended(provider, web_app, tokens)
    missing = await person.http.delete(
        f"/api/account/apps/{web_app.client_id}", headers=bearer(own)
    )
    assert missing.status_code == 404


async def test_removed_client_tokens_end(provider: Provider, person: Person) -> None:
    app = provider.add_client("Short-lived", "--redirect-uri", "http://127.0.0.1:8765/callback")
    tokens = await signed_in_tokens(provider, app, person)
    assert (await userinfo(provider, tokens["access_token"])).status_code == 200
    removed = run_cli(provider.stack, "remove", app.client_id)
    assert removed.returncode == 0, removed.stderr
    assert (await userinfo(provider, tokens["access_token"])).status_code == 401
