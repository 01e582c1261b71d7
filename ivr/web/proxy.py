"""Who is asking, behind a reverse proxy: the client's address and the scheme it used.

A TLS proxy (docs/https.md) connects from its own address and says in `X-Forwarded-For` and
`X-Forwarded-Proto` who the client is and whether it came over HTTPS. Those headers are read
only when the peer is one of `web_trusted_proxies`: anyone else could write them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(text: str) -> tuple[Network, ...]:
    """'127.0.0.1, 10.0.0.0/24' -> networks; ValueError on anything else."""
    return tuple(ipaddress.ip_network(p, strict=False) for p in re.split(r"[\s,]+", text) if p)


def _within(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def forwarded(request: web.Request, trusted: Sequence[Network]) -> tuple[str, str]:
    """(client address, scheme): the peer's own unless the peer is a trusted proxy."""
    peer = request.remote or ""
    if not trusted or not _within(peer, trusted):
        return peer, request.scheme
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")]
    hops = [h for h in hops if h]
    client = peer
    # From the right: the last hop that is not one of our proxies is the client (what is to
    # its left was written by the client itself).
    for hop in reversed(hops):
        client = hop
        if not _within(hop, trusted):
            break
    try:
        client = str(ipaddress.ip_address(client.strip("[]")))
    except ValueError:
        client = peer
    protos = request.headers.getall("X-Forwarded-Proto", [])
    proto = protos[-1].split(",")[-1].strip().lower() if protos else ""
    return client, proto if proto in ("http", "https") else request.scheme
