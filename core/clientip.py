"""The client's IP address (SPEC §10): `REMOTE_ADDR`, or — when the peer is a proxy listed in
`TRUSTED_PROXIES` — the address that proxy appended to `X-Forwarded-For`.

`X-Forwarded-For` is read from the right: each trusted proxy appends the address it received the
request from, so the rightmost address that is not itself a trusted proxy is the first one no
proxy of ours vouches for, the client. Anything left of it was written by the client and may be
forged; a header from an untrusted peer is ignored whole.
"""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings
from django.http import HttpRequest

__all__ = ["client_ip", "parse_networks"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(values: list[str] | tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """CIDRs (or single addresses) as networks; raises ValueError naming a bad one."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"TRUSTED_PROXIES: {value!r} is not an IP network") from None
    return tuple(networks)


@functools.cache
def _trusted(values: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return parse_networks(values)


def _address(value: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as text, or None when even REMOTE_ADDR is not an address."""
    peer = _address(request.META.get("REMOTE_ADDR", ""))
    if peer is None:
        return None
    trusted = _trusted(tuple(settings.TRUSTED_PROXIES))
    if not trusted or not any(peer in net for net in trusted):
        return str(peer)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    # The rightmost hops: our proxies append on the right, whatever the client wrote is left.
    hops = [hop for hop in (h.strip() for h in forwarded.split(",")[-64:]) if hop]
    client = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:  # garbage in the chain: trust nothing beyond it
            break
        client = address
        if not any(address in net for net in trusted):
            break
    return str(client)
