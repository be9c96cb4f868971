"""A real OAuth 2.0 / OpenID Connect client (Authlib) against the provider:
code flow with PKCE, ID token checked against the JWKS, refresh, UserInfo,
revocation, introspection, client_credentials."""

from __future__ import annotations

import secrets
import warnings

import authlib.deprecate  # noqa: F401 (its import adds an "always" filter; ours goes first)
import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

with warnings.catch_warnings():
    # Authlib 1.9 warns that it would rather use "httpx2"; httpx is what it gets.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.common.security import generate_token
    from authlib.integrations.httpx_client import AsyncOAuth2Client

from tests.e2e.oidc.conftest import REDIRECT, Client, Person, Provider

# RFC 9864 renames "EdDSA" to "Ed25519"; OpenID Connect clients still expect
# "EdDSA", and joserfc warns each time it verifies one.
pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated")


def oauth_client(provider: Provider, client: Client, **options: object) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client.client_id,
        client.client_secret,
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        timeout=15,
        **options,
    )


async def discovered(provider: Provider) -> dict[str, object]:
    async with httpx.AsyncClient(timeout=15) as http:
        answer = await http.get(provider.endpoint("/.well-known/openid-configuration"))
    assert answer.status_code == 200
    document: dict[str, object] = answer.json()
    return document


async def test_code_flow_refresh_userinfo_revoke_introspect(
    provider: Provider, web_app: Client, person: Person
) -> None:
    config = await discovered(provider)
    assert config["issuer"] == provider.issuer
    verifier, nonce = generate_token(64), secrets.token_urlsafe(16)
    async with oauth_client(provider, web_app, scope="openid profile email offline_access") as app:
        url, state = app.create_authorization_url(
            str(config["authorization_endpoint"]), code_verifier=verifier, nonce=nonce
        )
        callback = await person.sign_in(url)
        assert callback.startswith(REDIRECT)
        token = await app.fetch_token(
            str(config["token_endpoint"]),
            authorization_response=callback,
            code_verifier=verifier,
            state=state,
        )
        assert token["token_type"] == "Bearer"
        assert {"access_token", "id_token", "refresh_token", "expires_in"} <= set(token)

        async with httpx.AsyncClient(timeout=15) as http:
            jwks = (await http.get(str(config["jwks_uri"]))).json()
        decoded = jwt.decode(token["id_token"], KeySet.import_key_set(jwks), algorithms=["EdDSA"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": web_app.client_id},
            nonce={"essential": True, "value": nonce},
            exp={"essential": True},
            iat={"essential": True},
        ).validate(decoded.claims)
        claims = decoded.claims
        assert claims["sub"] == str(person.user_id)
        assert claims["preferred_username"] == person.username
        assert claims["email_verified"] is False
        assert claims["amr"] == ["pwd"]
        assert claims["azp"] == web_app.client_id
        assert isinstance(claims["auth_time"], int)

        info = await app.get(str(config["userinfo_endpoint"]))
        assert info.status_code == 200, info.text
        assert info.json()["sub"] == str(person.user_id)
        assert info.json()["email"].lower() == f"{person.username}@example.com".lower()

        first_refresh = token["refresh_token"]
        renewed = await app.refresh_token(str(config["token_endpoint"]))
        assert renewed["refresh_token"] != first_refresh
        assert renewed["access_token"] != token["access_token"]

        active = await app.introspect_token(
            str(config["introspection_endpoint"]), token=renewed["access_token"]
        )
        assert active.json()["active"] is True
        assert active.json()["client_id"] == web_app.client_id
        spent = await app.introspect_token(
            str(config["introspection_endpoint"]), token=first_refresh
        )
        assert spent.json() == {"active": False}

        revoked = await app.revoke_token(
            str(config["revocation_endpoint"]), token=renewed["refresh_token"]
        )
        assert revoked.status_code == 200
        after = await app.introspect_token(
            str(config["introspection_endpoint"]), token=renewed["access_token"]
        )
        assert after.json() == {"active": False}
        refused = await app.get(str(config["userinfo_endpoint"]))
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")


async def test_client_credentials(provider: Provider, web_app: Client) -> None:
    config = await discovered(provider)
    async with oauth_client(provider, web_app, scope="api:read") as service:
        token = await service.fetch_token(
            str(config["token_endpoint"]), grant_type="client_credentials"
        )
        assert token["scope"] == "api:read"
        assert "refresh_token" not in token
        assert "id_token" not in token
        answer = await service.introspect_token(
            str(config["introspection_endpoint"]), token=token["access_token"]
        )
        assert answer.json()["active"] is True
        assert answer.json()["sub"] == web_app.client_id
