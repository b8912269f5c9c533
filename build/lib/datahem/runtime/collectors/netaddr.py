"""Client addresses: which one to trust, and how much of it may reach an attribute.

Behind a proxy (Cloud Run's front end, a load balancer) the socket peer is the proxy; each trusted proxy appends
the address it saw to `X-Forwarded-For`, so the client is the entry `trusted_proxy_hops` from the right. Entries
further left are whatever the client sent and are never trusted. Anonymisation happens before the address is
stored anywhere: `truncate` zeroes the last IPv4 octet or keeps the first 48 bits of an IPv6 address (the
conventions of Google Analytics' IP anonymisation), `drop` removes it.
"""

from __future__ import annotations

import ipaddress

IPV6_KEEP_BITS = 48


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxy_hops: int) -> str | None:
    """The client's address as far as trusted proxies vouch for it, or None when it cannot be told."""
    if trusted_proxy_hops <= 0:
        return peer
    hops = [h.strip() for h in (forwarded_for or "").split(",") if h.strip()]
    if len(hops) < trusted_proxy_hops:
        return None
    return hops[-trusted_proxy_hops]


def anonymize(address: str | None, mode: str) -> str | None:
    """The address as it may be stored under `mode` (none | truncate | drop); None when nothing may be stored."""
    if address is None or mode == "drop":
        return None
    octets = address.split(".")
    if len(octets) == 4 and all(o.isascii() and o.isdigit() and o == str(int(o)) and int(o) < 256 for o in octets):
        # A canonical dotted quad, the common case, without ipaddress' cost (a quarter of the request's own time).
        return address if mode == "none" else f"{octets[0]}.{octets[1]}.{octets[2]}.0"
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return None  # not an address (a unix socket, garbage in X-Forwarded-For): store nothing
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if mode == "none":
        return str(ip)
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ipaddress.IPv4Network(f"{ip}/24", strict=False).network_address)
    return str(ipaddress.IPv6Network(f"{ip}/{IPV6_KEEP_BITS}", strict=False).network_address)
