"""The client address workers see: the peer's, or X-Forwarded-For's only via trusted proxies."""

from __future__ import annotations

import pytest

from common.config import Settings
from gateway_app.client_ip import MAX_USER_AGENT_LENGTH, client_ip, user_agent


def trusted(raw: str) -> Settings:
    return Settings.from_env({"TRUSTED_PROXIES": raw})


@pytest.mark.parametrize(
    ("peer", "forwarded", "proxies", "expected"),
    [
        # No trusted proxies: the header is the client's word and is ignored.
        ("198.51.100.1", ["1.2.3.4"], "", "198.51.100.1"),
        # An untrusted peer cannot choose its address either.
        ("198.51.100.1", ["1.2.3.4"], "10.0.0.0/8", "198.51.100.1"),
        # A trusted proxy: the address it appended is the client.
        ("10.0.0.5", ["203.0.113.9"], "10.0.0.0/8", "203.0.113.9"),
        # What the client wrote left of that is not believed.
        ("10.0.0.5", ["6.6.6.6, 203.0.113.9"], "10.0.0.0/8", "203.0.113.9"),
        # Chains of trusted proxies are walked, in order, across repeated headers.
        ("10.0.0.5", ["6.6.6.6, 203.0.113.9", "10.0.0.7"], "10.0.0.0/8", "203.0.113.9"),
        # Garbage beyond our proxies: the last address we can vouch for.
        ("10.0.0.5", ["not-an-ip"], "10.0.0.0/8", "10.0.0.5"),
        # A trusted proxy that sent no header is itself the client.
        ("10.0.0.5", [], "10.0.0.0/8", "10.0.0.5"),
        ("::1", ["2001:db8::1"], "::1", "2001:db8::1"),
        ("::ffff:10.0.0.5", ["203.0.113.9"], "10.0.0.5", "203.0.113.9"),
    ],
)
def test_client_ip(peer: str, forwarded: list[str], proxies: str, expected: str) -> None:
    assert client_ip(peer, forwarded, trusted(proxies).http.trusted_proxies) == expected


def test_bad_trusted_proxies_name_the_variable() -> None:
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        trusted("10.0.0.0/8, nonsense")


def test_user_agent_is_printable_and_bounded() -> None:
    assert user_agent(None) is None
    assert user_agent("curl/8\x00\x1b[31m") == "curl/8[31m"
    assert user_agent("x" * 1000) == "x" * MAX_USER_AGENT_LENGTH
