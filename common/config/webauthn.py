"""Passkeys (WebAuthn): who the relying party is, and which pages may use it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from common.config.env import ConfigError, Env

DEFAULT_RP_ID = "localhost"
DEFAULT_RP_NAME = "Gatehouse"
# The gateway's own page on this machine; `gatehouse up -p N` passes its port.
DEFAULT_GATEWAY_PORT = 3000
_RP_ID = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-]+(:\d{1,5})?")


@dataclass(frozen=True, slots=True)
class WebAuthnSettings:
    # The domain passkeys are bound to: the page's host or a parent of it, never an IP.
    rp_id: str = DEFAULT_RP_ID
    # Shown by the browser and the authenticator when a passkey is made.
    rp_name: str = DEFAULT_RP_NAME
    # Pages whose ceremonies are accepted (clientDataJSON.origin, exact match).
    origins: tuple[str, ...] = (f"http://localhost:{DEFAULT_GATEWAY_PORT}",)
    # How long the challenge of one options call stays usable (also the browser's timeout).
    challenge_ttl: float = 120.0

    @classmethod
    def from_env(cls, env: Env) -> WebAuthnSettings:
        rp_id = (env.text("WEBAUTHN_RP_ID", DEFAULT_RP_ID) or DEFAULT_RP_ID).lower()
        if not _RP_ID.fullmatch(rp_id) or re.fullmatch(r"[0-9.]+", rp_id):
            raise ConfigError(
                f"WEBAUTHN_RP_ID must be a domain name such as example.com (got {rp_id!r})"
            )
        # GATEWAY_PORT, not PORT: under honcho every process has a PORT of its own.
        port = env.port("GATEWAY_PORT", DEFAULT_GATEWAY_PORT, listen=True)
        origins = tuple(o.rstrip("/") for o in env.items("WEBAUTHN_ORIGINS")) or (
            f"http://localhost:{port}",
        )
        for origin in origins:
            _check_origin(origin, rp_id)
        return cls(
            rp_id=rp_id,
            rp_name=env.text("WEBAUTHN_RP_NAME", DEFAULT_RP_NAME) or DEFAULT_RP_NAME,
            origins=origins,
            challenge_ttl=env.duration("WEBAUTHN_CHALLENGE_TTL", 120.0),
        )


def _check_origin(origin: str, rp_id: str) -> None:
    """Browsers refuse a ceremony whose page is not the RP ID or under it: say so at start."""
    if not _ORIGIN.fullmatch(origin):
        raise ConfigError(
            "WEBAUTHN_ORIGINS must be a comma-separated list of origins such as "
            f"https://login.example.com (got {origin!r})"
        )
    host = (urlsplit(origin).hostname or "").lower()
    if host != rp_id and not host.endswith("." + rp_id):
        raise ConfigError(
            f"WEBAUTHN_ORIGINS: {origin} is not on WEBAUTHN_RP_ID {rp_id} or a subdomain of it"
        )
