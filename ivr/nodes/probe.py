"""The engine's answer to Kamailio's OPTIONS pings: a node whose engine is gone (killed,
hung, stopped) stops answering, and Kamailio takes the node out of the rotation; it puts it
back as soon as the engine answers again (ivr/cluster/kamailio.cfg.j2, dispatcher set 2).

Why the engine answers and Kamailio checks, rather than the engine telling Kamailio: a dead
or hung engine tells nobody anything, so an announcement would need a timer on Kamailio's
side anyway; a ping it already sends (the dispatcher's, as for Asterisk) catches a killed
process and a stuck event loop alike, with nothing to install on either side.

Only OPTIONS is answered (200, no body), from the event loop itself: a loop that no longer
runs no longer answers. Anything else is ignored.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

log = logging.getLogger(__name__)

_ECHOED = ("via", "v", "from", "f", "call-id", "i", "cseq")
_TO = ("to", "t")
MAX_DATAGRAM = 4096


def answer(data: bytes) -> bytes | None:
    """The 200 OK to an OPTIONS request, or None for anything else (pure)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    head, _, _ = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    if not lines or not lines[0].startswith("OPTIONS ") or not lines[0].endswith(" SIP/2.0"):
        return None
    out = ["SIP/2.0 200 OK"]
    to = None
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        key = name.strip().lower()
        if not colon:
            continue
        if key in _ECHOED:
            out.append(line)
        elif key in _TO:
            to = line if ";tag=" in value else f"{line};tag={secrets.token_hex(4)}"
    if to is None or not any(line.lower().startswith(("call-id", "i:")) for line in out):
        return None
    out += [to, "Content-Length: 0", "", ""]
    return "\r\n".join(out).encode()


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.answered = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram one, by endpoint

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if len(data) > MAX_DATAGRAM or self.transport is None:
            return
        reply = answer(data)
        if reply is not None:
            self.transport.sendto(reply, addr)
            self.answered += 1


class Probe:
    """The UDP socket that answers Kamailio's pings while this engine runs."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._protocol: _Protocol | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        _, self._protocol = await loop.create_datagram_endpoint(
            _Protocol, local_addr=(self.host, self.port)
        )
        log.info("answering Kamailio's pings on udp %s:%d", self.host, self.port)

    def close(self) -> None:
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None

    @property
    def answered(self) -> int:
        return self._protocol.answered if self._protocol else 0
