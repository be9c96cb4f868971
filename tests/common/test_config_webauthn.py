"""Passkey settings: defaults, the gateway's own origin, and refusals that name the variable."""

from __future__ import annotations

import pytest

from common.config import ConfigError, Settings


def test_defaults_are_the_local_gateway() -> None:
    webauthn = Settings.from_env({}).webauthn
    assert webauthn.rp_id == "localhost"
    assert webauthn.rp_name == "Gatehouse"
    assert webauthn.origins == ("http://localhost:3000",)
    assert webauthn.challenge_ttl == 120


def test_the_default_origin_follows_the_gateway_port_not_the_process_port() -> None:
    # Under honcho the auth worker's PORT is its own health port.
    webauthn = Settings.from_env({"GATEWAY_PORT": "4000", "PORT": "4200"}).webauthn
    assert webauthn.origins == ("http://localhost:4000",)


def test_configured_relying_party() -> None:
    webauthn = Settings.from_env(
        {
            "WEBAUTHN_RP_ID": "Example.com",
            "WEBAUTHN_RP_NAME": "Example",
            "WEBAUTHN_ORIGINS": "https://example.com, https://login.example.com/",
            "WEBAUTHN_CHALLENGE_TTL": "1m",
        }
    ).webauthn
    assert webauthn.rp_id == "example.com"
    assert webauthn.rp_name == "Example"
    assert webauthn.origins == ("https://example.com", "https://login.example.com")
    assert webauthn.challenge_ttl == 60


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"WEBAUTHN_RP_ID": "127.0.0.1"}, "WEBAUTHN_RP_ID"),
        ({"WEBAUTHN_RP_ID": "https://example.com"}, "WEBAUTHN_RP_ID"),
        ({"WEBAUTHN_RP_ID": "example.com:443"}, "WEBAUTHN_RP_ID"),
        ({"WEBAUTHN_ORIGINS": "localhost:3000"}, "WEBAUTHN_ORIGINS"),
        ({"WEBAUTHN_ORIGINS": "http://127.0.0.1:3000"}, "WEBAUTHN_ORIGINS"),
        (
            {"WEBAUTHN_RP_ID": "example.com", "WEBAUTHN_ORIGINS": "https://evilexample.com"},
            "WEBAUTHN_ORIGINS",
        ),
        ({"WEBAUTHN_CHALLENGE_TTL": "0"}, "WEBAUTHN_CHALLENGE_TTL"),
    ],
)
def test_bad_settings_name_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(environ)
