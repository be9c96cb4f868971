"""Second factors: the keys TOTP secrets are sealed with, and how long a login may wait for one."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from common.config.env import ConfigError, Env

KEY_BYTES = 32  # AES-256-GCM
# A key of 32 random bytes has about 30 different values; 16 catches "aaaa..." and short repeats.
MIN_KEY_DISTINCT_BYTES = 16
_KEY_ID = re.compile(r"\A[A-Za-z0-9_-]{1,32}\Z")
DEVELOPMENT_KEY_ID = "dev"
# The development key is derived from this fixed text, so that a bare checkout
# runs and keeps reading what it sealed; production refuses it.
_DEVELOPMENT_KEY_SOURCE = b"gatehouse development MFA key, never for production"
HOW_TO_MAKE_A_KEY = (
    "python -c 'import base64, secrets; "
    'print("k1:" + base64.b64encode(secrets.token_bytes(32)).decode())\''
)


def development_key() -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"mfa-dev").derive(
        _DEVELOPMENT_KEY_SOURCE
    )


@dataclass(frozen=True, slots=True)
class MfaSettings:
    # (key id, 32-byte key) pairs: the first seals, every one unseals, so a key
    # is rotated by putting a new one first and keeping the old one after it.
    # Empty only in production without MFA_ENCRYPTION_KEYS: the auth worker,
    # the one process that needs them, then refuses to start (require_keys).
    encryption_keys: tuple[tuple[str, bytes], ...] = ((DEVELOPMENT_KEY_ID, development_key()),)
    # How long the mfa_token of a login waiting for its second step lives.
    token_expires_in: float = 300.0
    # The issuer an authenticator app shows next to the account name.
    totp_issuer: str = "Gatehouse"

    @classmethod
    def from_env(cls, env: Env, *, production: bool) -> MfaSettings:
        raw = env.text("MFA_ENCRYPTION_KEYS")
        if raw is None:
            keys: tuple[tuple[str, bytes], ...] = (
                () if production else ((DEVELOPMENT_KEY_ID, development_key()),)
            )
        else:
            keys = parse_keys(env.items("MFA_ENCRYPTION_KEYS"), production=production)
        return cls(
            encryption_keys=keys,
            token_expires_in=env.duration("MFA_TOKEN_EXPIRES_IN", 300.0),
            totp_issuer=env.text("MFA_TOTP_ISSUER", "Gatehouse") or "Gatehouse",
        )

    def require_keys(self) -> None:
        """Raise ConfigError unless a key is configured (production without MFA_ENCRYPTION_KEYS)."""
        if not self.encryption_keys:
            raise ConfigError(
                "MFA_ENCRYPTION_KEYS is required when APP_ENV=production (comma-separated "
                f"kid:base64key, 32-byte keys); make one with: {HOW_TO_MAKE_A_KEY}"
            )


def parse_keys(items: tuple[str, ...], *, production: bool) -> tuple[tuple[str, bytes], ...]:
    """``kid:base64key`` items as (kid, key) pairs, refusing anything malformed or weak."""
    if not items:
        raise ConfigError("MFA_ENCRYPTION_KEYS is blank; give kid:base64key items or unset it")
    keys: list[tuple[str, bytes]] = []
    for item in items:
        kid, sep, encoded = item.partition(":")
        if not sep or not _KEY_ID.fullmatch(kid):
            raise ConfigError(
                "MFA_ENCRYPTION_KEYS items must look like kid:base64key, the kid 1-32 of "
                f"A-Z a-z 0-9 _ - (got an item starting {item[:6]!r}...)"
            )
        if any(kid == seen for seen, _ in keys):
            raise ConfigError(f"MFA_ENCRYPTION_KEYS names key {kid!r} twice")
        key = _decode(kid, encoded)
        if len(key) != KEY_BYTES:
            raise ConfigError(
                f"MFA_ENCRYPTION_KEYS key {kid!r} must be {KEY_BYTES} bytes (got {len(key)}); "
                f"make one with: {HOW_TO_MAKE_A_KEY}"
            )
        if len(set(key)) < MIN_KEY_DISTINCT_BYTES:
            raise ConfigError(f"MFA_ENCRYPTION_KEYS key {kid!r} is not random enough")
        if production and key == development_key():
            raise ConfigError(
                "MFA_ENCRYPTION_KEYS holds the development key; refused in production"
            )
        keys.append((kid, key))
    return tuple(keys)


def _decode(kid: str, encoded: str) -> bytes:
    """Standard or URL-safe base64, padded or not."""
    text = encoded.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"MFA_ENCRYPTION_KEYS key {kid!r} is not base64") from None
