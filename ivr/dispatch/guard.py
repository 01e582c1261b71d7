"""The webhook's floor: where a request a client has aimed may go. Code, not a setting.

A client sets its webhook's URL, so it is a door out of the center that someone else points:
HTTPS only; never to a loopback, private, link-local, multicast, reserved or otherwise
non-public address, nor to the center's own; checked on every address the name resolves to,
and the connection is made to those checked addresses only (the resolver below is the one
the HTTP client connects through, so a second DNS answer cannot swap them). The one widening:
the exact addresses the center names in its `webhook_allow_addresses` setting (a receiver of
its own, a test's on 127.0.0.x), which may also be reached over plain HTTP.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL = 2000


class Refused(Exception):
    """The webhook may not go there; the message says why (shown to the client's admin)."""


def allowed_addresses(setting: str) -> frozenset[Address]:
    return frozenset(ipaddress.ip_address(a.strip()) for a in setting.split(",") if a.strip())


def own_addresses(*hosts: str) -> frozenset[Address]:
    """The center's own addresses: the ones given, and what this machine's name resolves to."""
    found: set[Address] = set()
    for host in (*hosts, socket.gethostname()):
        if not host:
            continue
        try:
            found.add(ipaddress.ip_address(host))
            continue
        except ValueError:
            pass
        try:
            for info in socket.getaddrinfo(host, None):
                found.add(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
        except OSError:
            continue
    return frozenset(found)


def refusal(address: Address, allowed: Collection[Address], own: Collection[Address]) -> str:
    """Why a webhook may not reach `address` ("" when it may)."""
    if address in allowed:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        mapped = refusal(address.ipv4_mapped, allowed, own)
        return mapped and f"{mapped} (as {address})"
    if address.is_loopback:
        return f"{address} is a loopback address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address.is_private:
        return f"{address} is a private address"
    if address.is_multicast or address.is_reserved or address.is_unspecified:
        return f"{address} is not an address a request may go to"
    if not address.is_global:
        return f"{address} is not a public address"
    if address in own:
        return f"{address} is the center's own address"
    return ""


def check_url(url: str, allowed: Collection[Address], own: Collection[Address]) -> str:
    """The URL's scheme, length and (for an address written in it) the address; Refused if
    not. Returns the host. A name is checked when it is resolved (GuardedResolver)."""
    if len(url) > MAX_URL:
        raise Refused("the address is too long")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"not a web address: {exc}") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Refused("a webhook is an https:// address")
    if parts.username or parts.password:
        raise Refused("no user name or password in the address (the secret signs it)")
    del port
    host = parts.hostname
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # a name: its addresses are checked as it is resolved
    why = refusal(address, allowed, own)
    if why:
        raise Refused(why)
    if parts.scheme == "http" and address not in allowed:
        raise Refused("plain http only to the addresses the center allows; use https")
    return host


class GuardedResolver(AbstractResolver):
    """Resolves a name and hands the HTTP client only addresses the floor lets through; a
    name with any address it refuses is refused whole."""

    def __init__(self, allowed: Collection[Address], own: Collection[Address], plain: bool):
        self.allowed = allowed
        self.own = own
        self.plain = plain  # plain http: every address must be one the center allows

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        try:
            infos: list[Any] = await loop.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, family=family
            )
        except OSError as exc:
            raise Refused(f"{host} does not resolve: {exc}") from exc
        out: list[ResolveResult] = []
        for fam, _, proto, _, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            why = refusal(address, self.allowed, self.own)
            if why:
                raise Refused(f"{host} resolves to {why}")
            if self.plain and address not in self.allowed:
                raise Refused("plain http only to the addresses the center allows; use https")
            out.append(
                ResolveResult(hostname=host, host=str(address), port=int(sockaddr[1]),
                              family=fam, proto=proto, flags=socket.AI_NUMERICHOST)
            )  # fmt: skip
        if not out:
            raise Refused(f"{host} has no address")
        return out

    async def close(self) -> None:
        return None
