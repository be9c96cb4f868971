"""Every malformed or hostile request gets the RFC's error and status, is
audited (oauth.refused, by request id), and harms no other request."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.e2e.helpers import assert_error
from tests.e2e.oidc.conftest import (
    REDIRECT,
    Client,
    Person,
    Provider,
    authorize_url,
    callback_params,
    client_post,
    exchange,
    introspect,
    pkce_pair,
    refusals,
    signed_in_tokens,
)


def tagged() -> dict[str, str]:
    return {"X-Request-ID": f"oidc-bad-{uuid.uuid4().hex[:12]}"}


async def audited(provider: Provider, headers: dict[str, str], error: str) -> None:
    rows = await refusals(provider.stack.env["DATABASE_URL"], headers["X-Request-ID"])
    assert [row["error"] for row in rows] == [error], rows


def rfc_error(answer: httpx.Response, status: int, error: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None}, "invalid_request"),  # missing PKCE
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),  # plain by default
        ({"scope": "openid telepathy"}, "invalid_scope"),
        ({"scope": None}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"prompt": "none"}, "login_required"),
    ],
)
async def test_authorize_errors_go_back_to_the_app(
    provider: Provider, web_app: Client, overrides: dict[str, str | None], error: str
) -> None:
    _, challenge = pkce_pair()
    url = authorize_url(provider, web_app, **{"code_challenge": challenge, **overrides})
    headers = tagged()
    async with httpx.AsyncClient(timeout=15) as http:
        answer = await http.get(url, headers=headers)
    assert answer.status_code == 302, answer.text
    params = callback_params(answer.headers["location"])
    assert params["error"] == error
    assert params["state"].startswith("st-")
    assert params["iss"] == provider.issuer
    assert "code" not in params
    await audited(provider, headers, error)


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_id": "gh-no-such-client"},
        {"client_id": None},
        {"redirect_uri": "http://127.0.0.1:8765/elsewhere"},
        {"redirect_uri": REDIRECT + "/deeper"},  # no prefix matching
        {"redirect_uri": None},
    ],
)
async def test_unknown_client_or_redirect_is_shown_never_redirected(
    provider: Provider, web_app: Client, overrides: dict[str, str | None]
) -> None:
    headers = tagged()
    async with httpx.AsyncClient(timeout=15) as http:
        answer = await http.get(authorize_url(provider, web_app, **overrides), headers=headers)
    assert answer.status_code == 400
    assert "location" not in answer.headers
    assert answer.headers["content-type"].startswith("text/html")
    assert 'id="oauth-error"' in answer.text
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    await audited(provider, headers, "invalid_request")


async def test_wrong_verifier_and_mismatched_redirect_at_the_token_endpoint(
    provider: Provider, web_app: Client, person: Person
) -> None:
    for overrides, description in (
        ({"code_verifier": "x" * 43}, "code_verifier"),
        ({"redirect_uri": "http://127.0.0.1:8765/elsewhere"}, "redirect_uri"),
    ):
        verifier, challenge = pkce_pair()
        location = await person.sign_in(authorize_url(provider, web_app, code_challenge=challenge))
        code = callback_params(location)["code"]
        headers = tagged()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            **overrides,
        }
        async with httpx.AsyncClient(timeout=15) as http:
            answer = await http.post(
                provider.endpoint("/oauth/token"),
                data=form,
                headers=headers,
                auth=(web_app.client_id, web_app.client_secret or ""),
            )
        rfc_error(answer, 400, "invalid_grant")
        assert description in answer.json()["error_description"]
        await audited(provider, headers, "invalid_grant")
        # The failed attempt spent the code: the right verifier cannot follow.
        again = await exchange(provider, web_app, code, verifier)
        rfc_error(again, 400, "invalid_grant")


async def test_missing_verifier_is_invalid_request(
    provider: Provider, web_app: Client, person: Person
) -> None:
    _, challenge = pkce_pair()
    location = await person.sign_in(authorize_url(provider, web_app, code_challenge=challenge))
    code = callback_params(location)["code"]
    answer = await client_post(
        provider,
        web_app,
        "/oauth/token",
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
    )
    rfc_error(answer, 400, "invalid_request")


async def test_reused_code_revokes_every_token_issued_from_it(
    provider: Provider, web_app: Client, person: Person
) -> None:
    verifier, challenge = pkce_pair()
    location = await person.sign_in(authorize_url(provider, web_app, code_challenge=challenge))
    code = callback_params(location)["code"]
    first = await exchange(provider, web_app, code, verifier)
    assert first.status_code == 200, first.text
    tokens = first.json()
    assert (await introspect(provider, web_app, tokens["access_token"]))["active"] is True

    second = await exchange(provider, web_app, code, verifier)
    rfc_error(second, 400, "invalid_grant")
    assert await introspect(provider, web_app, tokens["access_token"]) == {"active": False}
    assert await introspect(provider, web_app, tokens["refresh_token"]) == {"active": False}
    refreshed = await client_post(
        provider,
        web_app,
        "/oauth/token",
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    rfc_error(refreshed, 400, "invalid_grant")


async def test_refresh_token_reuse_revokes_the_grant(
    provider: Provider, web_app: Client, person: Person
) -> None:
    tokens = await signed_in_tokens(provider, web_app, person)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    rotated = await client_post(provider, web_app, "/oauth/token", form)
    assert rotated.status_code == 200, rotated.text
    # A retry within REFRESH_REUSE_INTERVAL gets the same successor, not a fork.
    retry = await client_post(provider, web_app, "/oauth/token", form)
    assert retry.json()["refresh_token"] == rotated.json()["refresh_token"]
    assert (await introspect(provider, web_app, rotated.json()["access_token"]))["active"]


async def test_wrong_client_secret(provider: Provider, web_app: Client) -> None:
    headers = tagged()
    async with httpx.AsyncClient(timeout=15) as http:
        basic = await http.post(
            provider.endpoint("/oauth/token"),
            data={"grant_type": "client_credentials"},
            auth=(web_app.client_id, "not-the-secret"),
            headers=headers,
        )
        posted = await http.post(
            provider.endpoint("/oauth/token"),
            data={
                "grant_type": "client_credentials",
                "client_id": web_app.client_id,
                "client_secret": "not-the-secret",
            },
        )
        unknown = await http.post(
            provider.endpoint("/oauth/introspect"),
            data={"token": "x"},
            auth=("gh-nobody", "whatever"),
        )
    for answer in (basic, posted, unknown):
        rfc_error(answer, 401, "invalid_client")
        assert answer.headers["www-authenticate"].startswith("Basic")
    await audited(provider, headers, "invalid_client")


async def test_json_on_form_routes_and_forms_on_json_routes(provider: Provider) -> None:
    async with httpx.AsyncClient(base_url=provider.issuer, timeout=15) as http:
        for path in ("/oauth/token", "/oauth/revoke", "/oauth/introspect"):
            headers = tagged()
            answer = await http.post(
                path, json={"grant_type": "client_credentials"}, headers=headers
            )
            rfc_error(answer, 400, "invalid_request")
            await audited(provider, headers, "invalid_request")
        for path in ("/api/auth/login", "/api/users/register", "/api/auth/refresh"):
            answer = await http.post(path, data={"username": "a", "password": "b"})
            assert_error(answer, 415, "unsupported_media_type")
        login_page_json = await http.post("/oauth/login", json={"request_id": "x"})
        assert login_page_json.status_code == 400
        assert login_page_json.headers["content-type"].startswith("text/html")


async def test_bad_requests_harm_no_other_request(
    provider: Provider, web_app: Client, person: Person
) -> None:
    secret = (web_app.client_id, web_app.client_secret or "")
    form = {"content-type": "application/x-www-form-urlencoded"}
    kinds: list[Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]] = [
        lambda h: h.post("/oauth/token", json={"grant_type": "authorization_code"}),
        lambda h: h.post("/oauth/token", data={"grant_type": "password"}, auth=("a", "b")),
        lambda h: h.get("/oauth/authorize?client_id=nobody&redirect_uri=http://evil.example/"),
        lambda h: h.post("/oauth/token", content=b"%zz=&&==", headers=form),
        lambda h: h.post("/oauth/introspect", data={"token": "a.b.c"}, auth=secret),
        lambda h: h.get("/oauth/userinfo", headers={"Authorization": "Bearer a.b.c"}),
    ]

    async def hostile(http: httpx.AsyncClient, index: int) -> int:
        return (await kinds[index % len(kinds)](http)).status_code

    async with httpx.AsyncClient(base_url=provider.issuer, timeout=15) as http:
        results = await asyncio.gather(
            *(hostile(http, i) for i in range(24)),
            signed_in_tokens(provider, web_app, person),
        )
    statuses, good = results[:-1], results[-1]
    assert all(400 <= status < 500 or status == 200 for status in statuses), statuses
    assert not any(status >= 500 for status in statuses)
    assert isinstance(good, dict)
    assert good["token_type"] == "Bearer"
