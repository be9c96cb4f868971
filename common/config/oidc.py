"""The OpenID Connect provider: whether it runs, its issuer, and code lifetimes."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from common.config.env import ConfigError, Env
from common.config.http import DEFAULT_PORTS

# RFC 6749 4.1.2 recommends at most 10 minutes; OAuth 2.1 a short one.
DEFAULT_CODE_TTL = 60.0
# How long a person may take between the authorize redirect and consenting.
DEFAULT_REQUEST_TTL = 600.0


@dataclass(frozen=True, slots=True)
class OidcSettings:
    # The provider (discovery and the /oauth/* routes) is off unless enabled:
    # it needs an asymmetric key, which a bare checkout does not have.
    enabled: bool = False
    # The issuer: what apps put in their configuration, and every ID token's iss.
    issuer: str = f"http://localhost:{DEFAULT_PORTS['gateway']}"
    code_ttl: float = DEFAULT_CODE_TTL
    request_ttl: float = DEFAULT_REQUEST_TTL

    @property
    def secure_cookies(self) -> bool:
        return self.issuer.startswith("https://")

    @classmethod
    def from_env(cls, env: Env) -> OidcSettings:
        # Not PORT: honcho gives every process its own, and the workers must
        # name the same issuer as the gateway.
        gateway_port = env.text("GATEWAY_PORT") or str(DEFAULT_PORTS["gateway"])
        issuer = (env.text("PUBLIC_URL") or f"http://localhost:{gateway_port}").rstrip("/")
        parts = urlsplit(issuer)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ConfigError(f"PUBLIC_URL must be an http(s) URL with no query (got {issuer!r})")
        return cls(
            enabled=env.boolean("OIDC_ENABLED", False),
            issuer=issuer,
            code_ttl=env.duration("OIDC_CODE_TTL", DEFAULT_CODE_TTL),
            request_ttl=env.duration("OIDC_REQUEST_TTL", DEFAULT_REQUEST_TTL),
        )


def check_provider_keys(oidc: OidcSettings, jwt_algorithm: str) -> None:
    """Refuse to start a provider that could only sign ID tokens with a shared secret."""
    if oidc.enabled and jwt_algorithm == "HS256":
        raise ConfigError(
            "OIDC_ENABLED=true needs JWT_ALGORITHM=EdDSA or RS256 with a key pair: apps verify "
            "ID tokens with the public key from /.well-known/jwks.json, and an HS256 secret "
            "can be neither published nor kept by every app"
        )
