"""The JWTs apps get: ID tokens (OpenID Connect Core 2) and access tokens (RFC 9068).

Both are signed with the auth worker's asymmetric key (the one in the JWKS).
An access token's audience is the issuer itself (its one resource is the
UserInfo endpoint) and its type ``at+jwt``, so neither an ID token nor a
Gatehouse API token can stand in for it. Every access token names its grant
(``gid``): the grant's liveness, read from PostgreSQL, decides whether it
still counts, whatever its expiry says.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import jwt

from common.config import Settings
from common.errors import OAuthError
from common.security.signing_keys import SigningKey, VerificationKey, previous_keys, signing_key

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 (a media type, not a secret)
ACCESS_REQUIRED = ["exp", "iat", "iss", "aud", "sub", "jti", "client_id", "gid"]


@dataclass(frozen=True, slots=True)
class AccessClaims:
    grant_id: int
    client_id: str
    subject: str
    scopes: tuple[str, ...]
    issued_at: int
    expires_at: int


def scope_claims(user: asyncpg.Record, scopes: Sequence[str]) -> dict[str, Any]:
    """The claims about the person that the granted scopes allow (Core 5.4)."""
    claims: dict[str, Any] = {}
    if "profile" in scopes:
        claims["name"] = user["username"]
        claims["preferred_username"] = user["username"]
    if "email" in scopes:
        claims["email"] = user["email"]
        claims["email_verified"] = user["email_verified_at"] is not None
    return claims


class AppTokens:
    def __init__(self, settings: Settings) -> None:
        self._key: SigningKey = signing_key(settings)
        verification = [self._key.verification_key(), *previous_keys(settings)]
        self._keys: dict[str, VerificationKey] = {key.kid: key for key in verification}
        self.issuer = settings.oidc.issuer
        self.expires_in = int(settings.auth.jwt_expires_in)

    def _sign(self, claims: dict[str, Any], *, typ: str = "JWT") -> str:
        return jwt.encode(
            claims,
            self._key.key,
            algorithm=self._key.algorithm,
            headers={"kid": self._key.kid, "typ": typ},
        )

    def access_token(
        self, *, grant_id: int, client_id: str, subject: str, scopes: Sequence[str]
    ) -> str:
        now = int(time.time())
        return self._sign(
            {
                "iss": self.issuer,
                "sub": subject,
                "aud": self.issuer,
                "client_id": client_id,
                "scope": " ".join(scopes),
                "gid": str(grant_id),
                "iat": now,
                "exp": now + self.expires_in,
                "jti": secrets.token_urlsafe(16),
            },
            typ=ACCESS_TOKEN_TYPE,
        )

    def id_token(
        self,
        *,
        user: asyncpg.Record,
        client_id: str,
        scopes: Sequence[str],
        nonce: str | None,
        session: asyncpg.Record,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": str(user["id"]),
            "aud": client_id,
            "azp": client_id,
            "iat": now,
            "exp": now + self.expires_in,
            "auth_time": int(session["auth_time"].timestamp()),
            "amr": list(session["amr"]),
            "sid": str(session["session_id"]),
        }
        if nonce:
            claims["nonce"] = nonce
        return self._sign(claims | scope_claims(user, scopes))

    def _key_for(self, header: dict[str, Any]) -> VerificationKey | None:
        kid = header.get("kid")
        return self._keys.get(kid) if isinstance(kid, str) else None

    def verify_access(self, token: str, *, verify_exp: bool = True) -> AccessClaims:
        """The claims of one of our access tokens; OAuthError invalid_token otherwise."""
        try:
            header = jwt.get_unverified_header(token)
            key = self._key_for(header)
            if key is None or header.get("typ") != ACCESS_TOKEN_TYPE:
                raise jwt.InvalidTokenError("not one of our access tokens")
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],
                issuer=self.issuer,
                audience=self.issuer,
                options={"require": ACCESS_REQUIRED, "verify_exp": verify_exp},
            )
            return AccessClaims(
                grant_id=int(claims["gid"]),
                client_id=str(claims["client_id"]),
                subject=str(claims["sub"]),
                scopes=tuple(str(claims.get("scope", "")).split()),
                issued_at=int(claims["iat"]),
                expires_at=int(claims["exp"]),
            )
        except (jwt.InvalidTokenError, ValueError, TypeError):
            raise OAuthError.of(
                "invalid_token", "The access token is invalid or expired", status=401
            ) from None

    def id_token_client(self, token: str) -> tuple[str, str | None]:
        """(client id, session id) of an ID token we signed, expired or not (a logout hint)."""
        try:
            header = jwt.get_unverified_header(token)
            key = self._key_for(header)
            if key is None:
                raise jwt.InvalidTokenError("unknown key")
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],
                issuer=self.issuer,
                options={"verify_aud": False, "verify_exp": False, "require": ["aud", "sub"]},
            )
            aud = claims["aud"]
            client_id = aud if isinstance(aud, str) else str(aud[0])
            sid = claims.get("sid")
            return client_id, sid if isinstance(sid, str) else None
        except (jwt.InvalidTokenError, ValueError, TypeError, IndexError):
            raise OAuthError.of(
                "invalid_request", "id_token_hint is not an ID token of ours"
            ) from None
