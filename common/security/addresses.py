"""What a per-IP limit counts: one IPv4 address, or one IPv6 /64.

An IPv6 client is usually handed a whole /64 (often more), so counting single
v6 addresses would give an attacker 2**64 fresh budgets for free.
"""

from __future__ import annotations

import ipaddress

IPV6_PREFIX = 64


def limit_subject(ip: str) -> str:
    """The text a per-IP counter is keyed by; anything unparsable is kept as given."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))
    return str(address)
