"""The browser phones as a feature: their credentials (issued for a console login, revoked
when it ends), the SIP WebSocket relay, and the console's routes for them.

On one node the relay leads to this node's Asterisk, which keeps the passwords (astdb). In a
cluster (`phone_proxy`) it leads to the cluster's proxy, Kamailio, which keeps them and
through which every node reaches the browser: a node that fails takes no registration with
it, and a console page that moves to another engine carries its phone on through that one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ivr import config
from ivr.ami.client import AmiClient, AmiError
from ivr.asterisk.webrtc import PHONES_AMI_USER, REGISTER_EXPIRES, phones_ami_secret
from ivr.feature import Feature
from ivr.portal.auth import SUPERVISOR
from ivr.variables import phones
from ivr.webphone.credentials import Credentials, ProxyCredentials, ProxyError
from ivr.webphone.relay import Limits, relay, same_origin

if TYPE_CHECKING:
    from ivr.portal import Portal
    from ivr.portal.access import Login
    from ivr.portal.board import Live
    from ivr.records.repo import CallRecord
    from ivr.services import Services

log = logging.getLogger(__name__)

SWEEP_SECONDS = 15.0  # how often credentials of logins that expired are looked for


class BrowserPhones(Feature):
    name = "browser_phones"

    def __init__(self, services: Services, portal: Portal) -> None:
        super().__init__(services)
        self.portal = portal
        s = services.settings
        self.ami = AmiClient(
            s.bind,
            s.ports.ami,
            PHONES_AMI_USER,
            phones_ami_secret(s.ami_secret),
            events="off",
            on_connect=self._connected,
        )
        self.credentials: Credentials | ProxyCredentials = (
            ProxyCredentials(s.phone_proxy, config.proxy_token(s))
            if s.phone_proxy
            else Credentials(self.ami)
        )
        self.limits = Limits()
        self._cleared = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        # Its routes are the console's from the start: the app is built after every feature.
        portal.extend(ConsoleExtension(self))

    @property
    def upstream(self) -> str:
        s = self.services.settings
        return s.phone_proxy or f"ws://{s.bind}:{s.ports.asterisk_http}/ws"

    async def start(self) -> None:
        await self.ami.start()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def _connected(self) -> None:
        if not isinstance(self.credentials, Credentials):
            return  # in a cluster the proxy keeps them: other engines' logins live on
        if not self._cleared:  # a previous engine's passwords: nobody holds them any more
            self._cleared = True
            for operator in self.portal.rules.operators:
                if operator not in self.credentials.issued:
                    await self.credentials.lock(self.endpoint_of(operator))

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if isinstance(self.credentials, Credentials):
            # In a cluster the logins outlive this engine: their pages move to another one,
            # which takes their passwords over (they lapse at the proxy if none does).
            for operator in list(self.credentials.issued):
                await self.revoke(operator)
        for task in list(self._tasks):
            task.cancel()
        await self.ami.close()

    def status(self) -> dict[str, int]:
        open_ = sum(len(c) for c in self.limits.connections.values())
        return {"credentials": len(self.credentials.issued), "connections": open_}

    def endpoint_of(self, operator: str) -> str:
        return phones(self.portal.rules.operators[operator].endpoint)[1]

    async def revoke(self, operator: str) -> None:
        """The operator's browser password stops working and their phone disconnects."""
        await self.credentials.revoke(operator, self.endpoint_of(operator))
        for connection in list(self.limits.open(operator)):
            await connection.close(code=1000, message=b"logged out")

    async def revoke_if_gone(self, operator: str) -> None:
        """In a cluster: revoke unless the operator is still logged in at some console (this
        engine's count of logins is its own)."""
        if isinstance(self.credentials, ProxyCredentials):
            if operator in await self.portal.auth.users_with_sessions():
                return
        await self.revoke(operator)

    def spawn_revoke(self, operator: str) -> None:
        task = asyncio.get_running_loop().create_task(self.revoke_if_gone(operator))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sweep(self) -> None:
        """Revoke the credentials of operators whose every console login has expired."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)  # a period, not a wait for a state
            try:
                alive = await self.portal.auth.users_with_sessions()
                for operator in list(self.credentials.issued):
                    if operator not in alive:
                        await self.revoke(operator)
                if isinstance(self.credentials, ProxyCredentials):
                    await self.credentials.renew()
            except Exception:  # the next sweep tries again
                log.exception("browser phones: the sweep failed")


class ConsoleExtension:
    """The console's routes for its phone: the credential and the SIP WebSocket."""

    def __init__(self, feature: BrowserPhones) -> None:
        self.feature = feature
        self.portal = feature.portal

    def desk_changed(self, operator: str) -> None:
        if self.portal.board.live(operator).sessions == 0:  # logged out: no phone either
            self.feature.spawn_revoke(operator)

    async def panel(self, login: Login, live: Live, request: web.Request | None) -> str | None:
        return None

    async def card(self, login: Login, live: Live, call: CallRecord) -> str | None:
        return None  # the phone is beside the card, not on it

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/phone", self.credential)
        app.router.add_get("/phone/ws", self.websocket)

    async def _operator(self, request: web.Request) -> str:
        session = await self.portal.auth.current(request)
        if session is None or session.user == SUPERVISOR:
            raise web.HTTPForbidden(text="log into the console first")
        if session.user not in self.portal.rules.operators:
            raise web.HTTPForbidden(text="not an operator")
        return session.user

    async def credential(self, request: web.Request) -> web.Response:
        """The page's SIP identity for this login (JSON, never cached)."""
        operator = await self._operator(request)
        user = self.feature.endpoint_of(operator)
        try:
            credential = await self.feature.credentials.issue(operator, user)
        except (AmiError, ProxyError, TimeoutError) as exc:
            log.warning("browser phone credential for %s: %s", operator, exc)
            raise web.HTTPServiceUnavailable(text="Asterisk is not reachable") from None
        s = self.feature.services.settings
        body = {
            "user": credential.user,
            "password": credential.password,
            "uri": f"sip:{credential.user}@{s.bind}",
            "expires": REGISTER_EXPIRES,
        }
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        operator = await self._operator(request)
        if not same_origin(request):
            raise web.HTTPForbidden(text="the console's own pages only")
        session = await self.portal.auth.current(request)
        assert session is not None
        token = session.token

        credentials = self.feature.credentials
        user = self.feature.endpoint_of(operator)
        if isinstance(credentials, ProxyCredentials):
            # A page whose engine is gone reconnects here with the password it holds: it is
            # kept alive from this engine now (or the page is refused and asks for one).
            with contextlib.suppress(ProxyError, TimeoutError):
                await credentials.adopt(operator, user)

        async def still_logged_in() -> bool:
            found = await self.portal.auth.by_token(token, touch=False)
            if found is None:
                return False
            if isinstance(credentials, ProxyCredentials):
                try:  # deleted by another engine (logout there) or lapsed
                    return await credentials.adopt(operator, user)
                except (ProxyError, TimeoutError):
                    return True  # the proxy unreachable: the relay's own upstream says so
            return operator in credentials.issued

        return await relay(
            request,
            operator,
            self.feature.endpoint_of(operator),
            self.feature.upstream,
            self.feature.limits,
            still_logged_in,
        )
