"""MFA_ENCRYPTION_KEYS and the other second-factor settings."""

from __future__ import annotations

import base64

import pytest

from common.config import ConfigError, Settings
from common.config.mfa import DEVELOPMENT_KEY_ID, development_key

STRONG_SECRET = "Zq7-Lm2_Vx9pRt4kWc8nYb3hJd6fGs5a"
KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def test_development_seals_with_a_derived_key_when_none_is_given() -> None:
    settings = Settings.from_env({})
    assert settings.mfa.encryption_keys == ((DEVELOPMENT_KEY_ID, development_key()),)
    assert settings.mfa.token_expires_in == 300
    settings.mfa.require_keys()


def test_production_without_keys_holds_none_and_the_auth_worker_check_refuses() -> None:
    settings = Settings.from_env({"APP_ENV": "production", "JWT_SECRET": STRONG_SECRET})
    assert settings.mfa.encryption_keys == ()
    with pytest.raises(ConfigError, match="MFA_ENCRYPTION_KEYS is required"):
        settings.mfa.require_keys()


def test_keys_are_read_in_order_first_one_sealing() -> None:
    settings = Settings.from_env(
        {"MFA_ENCRYPTION_KEYS": f"new:{b64(KEY_B)}, old:{b64(KEY_A).rstrip('=')}"}
    )
    assert settings.mfa.encryption_keys == (("new", KEY_B), ("old", KEY_A))


def test_url_safe_base64_is_accepted() -> None:
    key = bytes([251, 255, 254, *range(29)])
    encoded = base64.urlsafe_b64encode(key).decode()
    assert "-" in encoded or "_" in encoded
    assert Settings.from_env({"MFA_ENCRYPTION_KEYS": f"k:{encoded}"}).mfa.encryption_keys == (
        ("k", key),
    )


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (",", "blank"),
        (b64(KEY_A), "kid:base64key"),
        (f"bad kid:{b64(KEY_A)}", "kid:base64key"),
        ("k:not*base64", "not base64"),
        (f"k:{b64(KEY_A[:16])}", "must be 32 bytes"),
        (f"k:{b64(b'a' * 32)}", "not random enough"),
        (f"k:{b64(KEY_A)},k:{b64(KEY_B)}", "twice"),
    ],
)
def test_malformed_or_weak_keys_are_refused_everywhere(raw: str, problem: str) -> None:
    for app_env in ("development", "production"):
        with pytest.raises(ConfigError, match=problem):
            Settings.from_env(
                {"APP_ENV": app_env, "JWT_SECRET": STRONG_SECRET, "MFA_ENCRYPTION_KEYS": raw}
            )


def test_production_refuses_the_development_key() -> None:
    with pytest.raises(ConfigError, match="development key"):
        Settings.from_env(
            {
                "APP_ENV": "production",
                "JWT_SECRET": STRONG_SECRET,
                "MFA_ENCRYPTION_KEYS": f"dev:{b64(development_key())}",
            }
        )


def test_token_lifetime_and_issuer() -> None:
    settings = Settings.from_env({"MFA_TOKEN_EXPIRES_IN": "2m", "MFA_TOTP_ISSUER": "Acme"})
    assert (settings.mfa.token_expires_in, settings.mfa.totp_issuer) == (120, "Acme")
