"""JWT access tokens: signed by the auth worker, verified by the gateway.

Every token names its key (``kid`` header) and carries ``iss``, ``aud`` and
``jti``. Verification picks the key by ``kid`` and checks the signature with
that key's one algorithm, so a token cannot choose how it is checked (no
``alg: none``, no HS256 keyed with a public key).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jwt

from common.config import DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER, Settings
from common.errors import InvalidToken
from common.security.signing_keys import (
    SigningKey,
    VerificationKey,
    current_verification_key,
    hmac_key,
    previous_keys,
    signing_key,
)

ALGORITHM = "HS256"  # the default, the seed's
ISSUER = DEFAULT_JWT_ISSUER
AUDIENCE = DEFAULT_JWT_AUDIENCE
REQUIRED_CLAIMS = ["exp", "iat", "sub", "sid", "iss", "aud", "jti"]
# Every user's role, held implicitly (sql/migrations/0004_identity.sql).
BASE_ROLE = "user"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    session_id: int
    expires_at: int
    # The token's own id (``jti``): unique per token, for logs and audit trails.
    token_id: str
    # The holder's role names when the token was issued, always with "user"
    # (a token from before roles existed carries none and means just that).
    roles: tuple[str, ...] = (BASE_ROLE,)

    def has_role(self, role: str) -> bool:
        return role in self.roles


class TokenVerifier:
    """Checks tokens against a set of keys by kid; holds no private key."""

    def __init__(
        self,
        keys: Iterable[VerificationKey],
        *,
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
    ) -> None:
        self._keys = {key.kid: key for key in keys}
        self.issuer = issuer
        self.audience = audience

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVerifier:
        """The gateway's verifier: the current public key (or secret) and the previous ones."""
        return cls(
            [current_verification_key(settings), *previous_keys(settings)],
            issuer=settings.auth.jwt_issuer,
            audience=settings.auth.jwt_audience,
        )

    @property
    def kids(self) -> list[str]:
        return list(self._keys)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public keys as a JWK Set; empty when tokens are HMAC-signed."""
        published = (key.public_jwk() for key in self._keys.values())
        return {"keys": [jwk for jwk in published if jwk is not None]}

    def verify(self, token: str) -> TokenClaims:
        """Claims of a valid token; anything else raises InvalidToken (401)."""
        try:
            key = self._key_for(jwt.get_unverified_header(token))
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],
                issuer=self.issuer,
                audience=self.audience,
                options={"require": REQUIRED_CLAIMS},
            )
            return TokenClaims(
                user_id=int(claims["sub"]),
                session_id=int(claims["sid"]),
                expires_at=int(claims["exp"]),
                token_id=_text(claims["jti"]),
                roles=_roles(claims.get("roles")),
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("Token has expired") from None
        except (jwt.InvalidTokenError, ValueError, TypeError):
            raise InvalidToken("Invalid token") from None

    def _key_for(self, header: dict[str, Any]) -> VerificationKey:
        kid = header.get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise jwt.InvalidTokenError("unknown or missing kid")
        return key


class TokenSigner:
    """Issues tokens with one key; ``verify`` accepts that key and the previous ones."""

    def __init__(
        self,
        key: SigningKey | str,
        expires_in: float,
        *,
        issuer: str = ISSUER,
        audience: str = AUDIENCE,
        previous: Iterable[VerificationKey] = (),
    ) -> None:
        # A plain string is the HS256 secret, as before keys could be files.
        self._key = hmac_key(key) if isinstance(key, str) else key
        self.expires_in = expires_in
        self.issuer = issuer
        self.audience = audience
        self.verifier = TokenVerifier(
            [self._key.verification_key(), *previous], issuer=issuer, audience=audience
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenSigner:
        return cls(
            signing_key(settings),
            settings.auth.jwt_expires_in,
            issuer=settings.auth.jwt_issuer,
            audience=settings.auth.jwt_audience,
            previous=previous_keys(settings),
        )

    @property
    def kid(self) -> str:
        return self._key.kid

    @property
    def algorithm(self) -> str:
        return self._key.algorithm

    def issue(
        self,
        *,
        user_id: int,
        session_id: int,
        roles: Iterable[str] = (BASE_ROLE,),
        now: float | None = None,
    ) -> tuple[str, int]:
        """A signed token and the epoch second it expires; ``roles`` always gains "user"."""
        issued = int(now if now is not None else time.time())
        expires = issued + int(self.expires_in)
        claims = {
            "sub": str(user_id),
            "sid": str(session_id),
            "iat": issued,
            "exp": expires,
            "iss": self.issuer,
            "aud": self.audience,
            "jti": secrets.token_urlsafe(16),
            "roles": list(dict.fromkeys([BASE_ROLE, *roles])),
        }
        token = jwt.encode(
            claims, self._key.key, algorithm=self._key.algorithm, headers={"kid": self._key.kid}
        )
        return token, expires

    def verify(self, token: str) -> TokenClaims:
        """Claims of a valid token; anything else raises InvalidToken (401)."""
        return self.verifier.verify(token)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("jti must be a non-empty string")
    return value


def _roles(value: Any) -> tuple[str, ...]:
    if value is None:
        return (BASE_ROLE,)
    if not isinstance(value, list) or not all(isinstance(role, str) for role in value):
        raise ValueError("roles must be a list of strings")
    return tuple(dict.fromkeys([BASE_ROLE, *value]))
