"""common/config/oidc.py: the provider's settings and its refusal of HS256."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from common.config import ConfigError, Settings
from tests.key_material import KeyPair


def test_off_by_default_with_a_localhost_issuer(settings: Settings) -> None:
    assert settings.oidc.enabled is False
    assert settings.oidc.issuer == "http://localhost:3000"
    assert settings.oidc.code_ttl == 60


def test_hs256_provider_is_refused_with_the_reason(
    settings_factory: Callable[..., Settings],
) -> None:
    with pytest.raises(ConfigError, match="needs JWT_ALGORITHM=EdDSA or RS256"):
        settings_factory(OIDC_ENABLED="true")


def test_key_pair_provider_with_public_url(
    settings_factory: Callable[..., Settings], key_pair: Callable[..., KeyPair]
) -> None:
    pair = key_pair("EdDSA")
    settings = settings_factory(
        OIDC_ENABLED="true",
        JWT_ALGORITHM="EdDSA",
        JWT_PRIVATE_KEY_FILE=str(pair.private_path),
        PUBLIC_URL="https://login.example.com/",
        GATEWAY_PORT="4000",
    )
    assert settings.oidc.enabled
    assert settings.oidc.issuer == "https://login.example.com"
    assert settings.oidc.secure_cookies


def test_issuer_follows_the_gateway_port_not_port(
    settings_factory: Callable[..., Settings],
) -> None:
    # honcho gives each process its own PORT; every process must name one issuer.
    settings = settings_factory(GATEWAY_PORT="4100", PORT="4300")
    assert settings.oidc.issuer == "http://localhost:4100"


@pytest.mark.parametrize("url", ["ftp://x.example", "https://", "https://x.example/?a=b"])
def test_bad_public_url(settings_factory: Callable[..., Settings], url: str) -> None:
    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        settings_factory(PUBLIC_URL=url)
