"""The client's reserved area: each client's users see its calls and messages, and only its
own, at /area on the engine's HTTP port (the same aiohttp application as the console).

Logins go through the shared web sessions (ivr.web); every page asks `ctx()` who is asking,
and every query is given that user's client id and nothing else, so another client's call,
recording, user or ladder is simply not found (404).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ivr import i18n
from ivr.area import query, users
from ivr.area.auth import AreaLogin
from ivr.area.notify import WAKE_CALLS, WAKE_PREFS, Hub, Notifier
from ivr.area.pages import Page, build
from ivr.feature import Feature
from ivr.records import outbox, repo
from ivr.records.batch import Change
from ivr.web.auth import Guard, Policy, WebAuth, WebSession

if TYPE_CHECKING:
    from ivr.ami.message import Message
    from ivr.routing.model import Client, Rules
    from ivr.services import Services

log = logging.getLogger(__name__)
# Seconds an event's handler waits for the events before it to be on record.
RECORD_WAIT = 2.0

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "ivr_area"
BODY_LIMIT = 64 * 1024
KEEPALIVE_SECONDS = 15.0


@dataclass(frozen=True)
class Ctx:
    """Who is asking: the user, their client (from the rules), language and time zone."""

    user: users.User
    client: Client
    lang: str
    zone: str
    session: WebSession

    @property
    def client_id(self) -> str:
        return self.user.client_id

    @property
    def csrf(self) -> str:
        return self.session.csrf


class Area(AreaLogin, Feature):
    name = "area"

    def __init__(self, services: Services, prefix: str = "/area") -> None:
        super().__init__(services)
        self.prefix = prefix
        self.auth = WebAuth(
            services.sessions,
            "area",
            COOKIE,
            prefix,
            Policy.of(services.settings),
            clock=lambda: self.services.clock(),
        )
        self.pages: list[Page] = build(self)
        folders = [p.templates for p in self.pages if p.templates is not None]
        self.templates = i18n.Templates(TEMPLATES, *folders)
        self.hub = Hub()
        self.notifier = Notifier(self, self.templates)
        self._tells: set[asyncio.Task[None]] = set()

    @property
    def rules(self) -> Rules:
        return self.services.rules.current

    @property
    def public_url(self) -> str:
        settings = self.services.settings
        return (
            settings.area_url.rstrip("/")
            or f"http://{settings.bind}:{settings.ports.http}{self.prefix}"
        )

    def link(self, path: str) -> str:
        """An address of the area as clients reach it (for emails)."""
        return self.public_url + path

    def zone(self, client_id: str) -> str:
        client = self.rules.clients.get(client_id)
        return client.card.timezone if client else "UTC"

    def client_name(self, client_id: str) -> str:
        client = self.rules.clients.get(client_id)
        return client.name if client else client_id

    # -- the feature's hooks -------------------------------------------------------------

    async def start(self) -> None:
        wake = self.services.wake
        wake.on(outbox.WAKE, self._outbox_woken)  # a message saved, on any engine
        wake.on(WAKE_CALLS, self.tell_later)  # a call of this client stored, on any engine
        wake.on(WAKE_PREFS, lambda _payload: self.notifier.wake())
        if self.services.records is not None:  # a call of a client written: its live lists
            self.services.records.listen(self._records_written)
        self.notifier.start()

    async def close(self) -> None:
        self.hub.close()
        await self.notifier.close()
        for task in list(self._tells):
            task.cancel()

    def _outbox_woken(self, client_id: str) -> None:
        self.notifier.wake()
        self.tell_later(client_id)

    async def on_events(self, events: Sequence[Message]) -> None:
        for event in events:
            try:
                await self._on_event(event)
            except Exception:
                log.exception("area: handling AMI %s failed", event.event)

    def _records_written(self, changes: Sequence[Change]) -> None:
        """Records were written (in this engine): tell every engine's pages of their clients."""
        clients = {c.values.get("client_id") for c in changes} - {None, ""}
        for client_id in clients:
            task = asyncio.get_running_loop().create_task(
                self.services.wake.send(WAKE_CALLS, str(client_id))
            )
            self._tells.add(task)
            task.add_done_callback(self._tells.discard)

    async def _on_event(self, event: Message) -> None:
        linkedid = event.get("Linkedid") or ""
        if event.event == "UserEvent" and event.get("UserEvent") == "IvrMessage":
            if not event.get("Path"):
                return
            records = self.services.records
            if records is not None and records.healthy:
                await records.flush(RECORD_WAIT)  # the call's record is written first
            call = await repo.get_call(self.services.sessions, linkedid)
            if call is None or not call.client_id:
                return
            urgent = bool(event.get("Escalate"))  # the caller chose an emergency
            async with self.services.sessions.begin() as session:
                added = await outbox.add_message(
                    session, linkedid, call.client_id, urgent, self.services.clock()
                )
            if added:
                await self.services.wake.send(outbox.WAKE, call.client_id)

    def tell_later(self, client_id: str) -> None:
        """Tell the open pages of client_id (if any) the news and the unread count."""
        if not client_id or not self.hub.listeners(client_id):
            return
        task = asyncio.get_running_loop().create_task(self.tell_client(client_id))
        self._tells.add(task)
        task.add_done_callback(self._tells.discard)

    async def tell_client(self, client_id: str) -> None:
        if self.hub.listeners(client_id):
            count = await query.unread(self.services.sessions, client_id)
            self.hub.tell(client_id, {"kind": "call", "unread": count})

    def status(self) -> dict[str, Any] | None:
        return {"url": self.public_url}

    # -- the app -------------------------------------------------------------------------

    def web_apps(self) -> dict[str, web.Application]:
        return {self.prefix: self.app()}

    def app(self) -> web.Application:
        app = Guard(self.auth, BODY_LIMIT).app()
        app.router.add_get("/", self.home)
        self.login_routes(app)
        app.router.add_get("/events", self.events)
        for page in self.pages:
            app.router.add_routes(page.routes())
        app.router.add_static("/static", STATIC)

        async def on_shutdown(_app: web.Application) -> None:
            self.hub.close()

        app.on_shutdown.append(on_shutdown)
        return app

    async def home(self, request: web.Request) -> web.Response:
        raise web.HTTPSeeOther(f"{self.prefix}/calls")

    async def ctx(self, request: web.Request, *, admin: bool = False) -> Ctx:
        """The logged-in user and their client; a login page otherwise. A page for admins
        answers 404 to anyone else, as if it did not exist."""
        session = await self.auth.current(request)
        user = await users.get(self.services.sessions, int(session.user)) if session else None
        client = self.rules.clients.get(user.client_id) if user else None
        if session is None or user is None or client is None:
            raise web.HTTPSeeOther(f"{self.prefix}/login")
        if admin and not user.admin:
            raise web.HTTPNotFound()
        return Ctx(user, client, i18n.language(user.language), client.card.timezone, session)

    def render(
        self, request: web.Request, name: str, lang: str, status: int = 200, **context: Any
    ) -> web.Response:
        text = self.templates.render(name, lang, root=self.prefix, **context)
        return web.Response(text=text, status=status, content_type="text/html")

    async def page(
        self, request: web.Request, ctx: Ctx, name: str, status: int = 200, **context: Any
    ) -> web.Response:
        """A page of a logged-in user: the menu, the unread count, the client's name."""
        nav = [p for p in self.pages if p.title and (ctx.user.admin or not p.admin_only)]
        unread = await query.unread(self.services.sessions, ctx.client_id)
        return self.render(
            request,
            name,
            ctx.lang,
            status,
            ctx=ctx,
            nav=nav,
            here=request.path,
            unread=unread,
            **context,
        )

    # -- live updates --------------------------------------------------------------------

    async def events(self, request: web.Request) -> web.StreamResponse:
        ctx = await self.ctx(request)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        queue = self.hub.listen(ctx.client_id)
        try:
            count = await query.unread(self.services.sessions, ctx.client_id)
            await response.write(_sse({"kind": "hello", "unread": count}))
            while True:
                try:
                    news = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    if not await self.auth.keep_alive(ctx.session):
                        break
                    await response.write(b": keep-alive\n\n")
                    continue
                if news is None:
                    break
                await response.write(_sse(news))
        except ConnectionResetError:
            pass
        finally:
            self.hub.unlisten(ctx.client_id, queue)
        return response


def _sse(message: dict[str, Any]) -> bytes:
    import json

    return f"event: area\ndata: {json.dumps(message)}\n\n".encode()
