"""Who is calling: the client's address and user agent, as workers get them.

The address is the socket peer's, unless that peer is a proxy listed in
``TRUSTED_PROXIES``: then ``X-Forwarded-For`` is read from the right (the hop
our proxy appended) leftwards, skipping further trusted proxies, and the first
address that is not one of ours is the client. Everything left of it was
written by the client and proves nothing, so it is never used: a client cannot
pick its own address to dodge a per-IP limit.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from common.config import TrustedProxies

MAX_USER_AGENT_LENGTH = 256


def client_ip(peer: str, forwarded_for: Iterable[str], trusted: TrustedProxies) -> str:
    """The client's address, given the socket peer and every X-Forwarded-For header."""
    if not trusted:
        # No proxies configured (the default): the peer, with no parsing per request.
        return peer
    address = _parse(peer)
    if address is None or not _is_trusted(address, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    client = address
    for hop in reversed(hops):
        parsed = _parse(hop)
        if parsed is None:
            # Garbage from beyond our proxies: the last address we can vouch for stands.
            break
        client = parsed
        if not _is_trusted(parsed, trusted):
            break
    return str(client)


def user_agent(header: str | None) -> str | None:
    """The User-Agent, printable and bounded, for the sessions list and the audit trail."""
    if not header:
        return None
    if header.isprintable():
        return header[:MAX_USER_AGENT_LENGTH]
    printable = "".join(char for char in header if char.isprintable())
    return printable[:MAX_USER_AGENT_LENGTH] or None


def _parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip().removeprefix("[").split("]")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: TrustedProxies
) -> bool:
    # A v4 address is simply not in a v6 network (and vice versa): no error.
    return any(address in network for network in trusted)
