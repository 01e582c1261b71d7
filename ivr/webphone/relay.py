"""The browser phone's SIP over WebSocket: the page connects to the console's own origin
(wss whenever the page is HTTPS), the engine checks the console login and relays each frame
to Asterisk's loopback WebSocket transport, and back.

What the relay refuses, wherever Asterisk would not have: a connection without a live
operator login, or from another site's page (its Origin); a request outside a dialog
(REGISTER, a new INVITE) whose From is not the operator's own browser endpoint (a login is
one operator's phone, not anyone's); more than
REGISTER_MAX registrations a minute per operator (a page stuck retrying, or guessing); more
than CONNECTIONS_MAX connections of one operator at once. A login that expires, or logs out,
ends its connections: Asterisk then drops the registration at once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from ivr.webphone.sip import request_of

log = logging.getLogger(__name__)

# Floors, not settings: a registration and its digest challenge are two REGISTERs, renewed
# every minute or so; a dropped connection adds one more round.
REGISTER_MAX = 12
REGISTER_WINDOW = 60.0
CONNECTIONS_MAX = 2
MESSAGE_MAX = 64 * 1024  # an INVITE with its SDP and ICE candidates is a few KiB
CHECK_SECONDS = 15.0  # how often a connection's login is looked at again
UPSTREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=5)  # Asterisk, on loopback
POLICY = 1008  # WebSocket close code: policy violation


def same_origin(request: web.Request) -> bool:
    """The page that opens the WebSocket is the console's own (browsers always send Origin
    on a WebSocket handshake; a page of another site cannot use the operator's cookie)."""
    origin = request.headers.get("Origin", "")
    return bool(origin) and urlsplit(origin).netloc == request.host


class Limits:
    """REGISTERs per operator per window and connections per operator, on the loop's clock
    (a rate, not a moment: it reads no date)."""

    def __init__(self) -> None:
        self.registers: dict[str, collections.deque[float]] = {}
        self.connections: dict[str, set[web.WebSocketResponse]] = {}

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def register_allowed(self, operator: str) -> bool:
        seen = self.registers.setdefault(operator, collections.deque())
        now = self._now()
        while seen and now - seen[0] > REGISTER_WINDOW:
            seen.popleft()
        if len(seen) >= REGISTER_MAX:
            return False
        seen.append(now)
        return True

    def throttled(self, operator: str) -> bool:
        seen = self.registers.get(operator)
        if not seen:
            return False
        return len(seen) >= REGISTER_MAX and self._now() - seen[0] <= REGISTER_WINDOW

    def open(self, operator: str) -> set[web.WebSocketResponse]:
        return self.connections.setdefault(operator, set())


async def relay(
    request: web.Request,
    operator: str,
    endpoint: str,
    upstream_url: str,
    limits: Limits,
    still_logged_in: Callable[[], Awaitable[bool]],
) -> web.StreamResponse:
    """Relay one browser's SIP WebSocket to Asterisk's, under the limits above."""
    if limits.throttled(operator) or len(limits.open(operator)) >= CONNECTIONS_MAX:
        raise web.HTTPTooManyRequests(text="too many phone connections or registrations")
    browser = web.WebSocketResponse(protocols=("sip",), max_msg_size=MESSAGE_MAX, heartbeat=20)
    await browser.prepare(request)
    opened = limits.open(operator)
    opened.add(browser)
    try:
        async with aiohttp.ClientSession(timeout=UPSTREAM_TIMEOUT) as client:
            try:
                asterisk = await client.ws_connect(
                    upstream_url,
                    protocols=("sip",),
                    max_msg_size=MESSAGE_MAX,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5),
                )
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("browser phone of %s: Asterisk's WebSocket: %s", operator, exc)
                await browser.close(code=1011, message=b"Asterisk unreachable")
                return browser
            async with asterisk:
                await _pump(browser, asterisk, operator, endpoint, limits, still_logged_in)
    finally:
        opened.discard(browser)
        if not browser.closed:
            await browser.close()
    return browser


async def _pump(
    browser: web.WebSocketResponse,
    asterisk: aiohttp.ClientWebSocketResponse[bool],
    operator: str,
    endpoint: str,
    limits: Limits,
    still_logged_in: Callable[[], Awaitable[bool]],
) -> None:
    async def up() -> str:
        async for message in browser:
            if message.type != aiohttp.WSMsgType.TEXT:
                return "not SIP text"
            sip = request_of(message.data)
            if sip is not None and not sip.in_dialog and sip.from_user != endpoint:
                return f"a request from {sip.from_user!r}, not {endpoint!r}"
            if (
                sip is not None
                and sip.method == "REGISTER"
                and not limits.register_allowed(operator)
            ):
                return "too many registrations"
            await asterisk.send_str(message.data)
        return ""

    async def down() -> str:
        async for message in asterisk:
            if message.type == aiohttp.WSMsgType.TEXT:
                await browser.send_str(message.data)
        return ""

    async def watch() -> str:
        while True:
            await asyncio.sleep(CHECK_SECONDS)  # a period between checks, not a wait for state
            if not await still_logged_in():
                return "the console login ended"

    tasks = [asyncio.ensure_future(work()) for work in (up, down, watch)]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        reason = next(iter(done)).result() if done else ""
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if reason:
        log.warning("browser phone of %s: connection closed: %s", operator, reason)
        await browser.close(code=POLICY, message=reason.encode()[:120])
