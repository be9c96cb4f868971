"""Settings of verified email (issue 12)."""

from __future__ import annotations

import pytest

from common.config import ConfigError, Settings


def test_verified_email_is_off_by_default_so_the_seed_flows_work() -> None:
    settings = Settings.from_env({})
    assert settings.auth.require_verified_email is False
    assert settings.auth.email_verification_expires_in == 24 * 3600
    assert settings.auth.public_url == "http://localhost:3000"
    assert settings.limits.rate_limits["verify_email_resend"].count == 5


def test_verified_email_variables() -> None:
    settings = Settings.from_env(
        {
            "REQUIRE_VERIFIED_EMAIL": "true",
            "EMAIL_VERIFICATION_EXPIRES_IN": "2h",
            "PUBLIC_URL": "https://id.example.org/",
        }
    )
    assert settings.auth.require_verified_email is True
    assert settings.auth.email_verification_expires_in == 7200
    assert settings.auth.public_url == "https://id.example.org"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REQUIRE_VERIFIED_EMAIL", "perhaps"),
        ("PUBLIC_URL", "id.example.org"),
        ("PUBLIC_URL", "ftp://x"),
    ],
)
def test_bad_values_name_their_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})
