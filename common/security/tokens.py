"""JWT access tokens: HS256, with the claims every check requires."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from common.errors import InvalidToken

ALGORITHM = "HS256"
ISSUER = "gatehouse"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "sid", "iss"]


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    session_id: int
    expires_at: int


class TokenSigner:
    def __init__(self, secret: str, expires_in: float) -> None:
        self._secret = secret
        self.expires_in = expires_in

    def issue(self, *, user_id: int, session_id: int, now: float | None = None) -> tuple[str, int]:
        """A signed token and the epoch second it expires."""
        issued = int(now if now is not None else time.time())
        expires = issued + int(self.expires_in)
        claims = {
            "sub": str(user_id),
            "sid": str(session_id),
            "iat": issued,
            "exp": expires,
            "iss": ISSUER,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM), expires

    def verify(self, token: str) -> TokenClaims:
        """Claims of a valid token; anything else raises InvalidToken (401)."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": REQUIRED_CLAIMS},
            )
            return TokenClaims(
                user_id=int(claims["sub"]),
                session_id=int(claims["sid"]),
                expires_at=int(claims["exp"]),
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("Token has expired") from None
        except (jwt.InvalidTokenError, ValueError, TypeError):
            raise InvalidToken("Invalid token") from None
