"""What per-IP limits count: one IPv4 address, one IPv6 /64."""

from __future__ import annotations

import pytest

from common.security.addresses import limit_subject


@pytest.mark.parametrize(
    ("ip", "subject"),
    [
        ("203.0.113.5", "203.0.113.5"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::ffff", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.5", "203.0.113.5"),
        ("not-an-address", "not-an-address"),
    ],
)
def test_limit_subject(ip: str, subject: str) -> None:
    assert limit_subject(ip) == subject
