"""Who is at the console: logins through the shared web sessions (server-side expiry, logout
everywhere, throttled logins, CSRF), the event stream that shows the console is open, and the
pause of an operator whose console has been gone for `console_gone_seconds`.

A console that is gone (the page closed, the laptop asleep, the session expired) while its
operator is available would leave the queue ringing a phone nobody answers: after the grace
time the operator is paused in every queue (AMI QueuePause, reason "console gone"), and comes
back available only by choosing it on the console again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ivr.i18n import LANGUAGES, negotiate, tr
from ivr.portal import store
from ivr.portal.auth import SUPERVISOR, check_password
from ivr.portal.board import Board
from ivr.web.auth import WebAuth

if TYPE_CHECKING:
    from ivr.portal.desk import Desk
    from ivr.routing.model import Rules
    from ivr.services import Services

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 15.0
GONE_REASON = "console gone"
LANG_COOKIE = "ivr_console_lang"  # the language chosen on this browser
# Where the operator takes calls, chosen at login and remembered on this browser: "page" (the
# console page is their phone, registered from login to logout) or "desk" (a desk phone
# only). Not a secret: the page's script reads it, and changes it from the phone's switch.
PHONE_COOKIE = "ivr_console_phone"
PHONE_CHOICES = ("page", "desk")


@dataclass(frozen=True)
class Login:
    user: str
    csrf: str
    token: str = ""
    lang: str = "it"


def phone_of(request: web.Request) -> str:
    """Where this browser's operator takes calls: the page's phone unless they chose a desk
    phone (a forgotten choice then rings both phones of the same operator, never none)."""
    chosen = request.cookies.get(PHONE_COOKIE, "")
    return chosen if chosen in PHONE_CHOICES else "page"


def lang_of(request: web.Request | None) -> str:
    """The console's language: the one chosen on this browser, else the browser's own
    preference among ours, else Italian."""
    if request is None:
        return "it"
    chosen = request.cookies.get(LANG_COOKIE, "")
    return chosen if chosen in LANGUAGES else negotiate(request.headers.get("Accept-Language"))


def _sse(message: dict[str, Any]) -> bytes:
    return f"event: call\ndata: {json.dumps(message)}\n\n".encode()


class ConsoleAccess:
    """The Portal's logins and presence (a mixin: Portal provides what is declared here)."""

    services: Services
    board: Board
    desk: Desk
    prefix: str
    auth: WebAuth
    _gone: dict[str, asyncio.TimerHandle]
    _render: Callable[..., web.Response]
    _redirect: Callable[[str], web.HTTPSeeOther]

    @property
    def rules(self) -> Rules:
        raise NotImplementedError

    async def sync_pauses(self) -> None:
        raise NotImplementedError

    def _desk_changed(self, operator: str) -> None:
        """The operator logged in or out, or changed state: other features are told."""

    def _now(self) -> datetime:
        return self.services.clock()

    # -- who is asking -----------------------------------------------------------------------

    async def login_of(self, request: web.Request) -> Login | None:
        session = await self.auth.current(request)
        if session is None:
            return None
        if session.user != SUPERVISOR:
            live = self.board.live(session.user)
            live.sessions = max(live.sessions, 1)  # logged in before the engine restarted
        return Login(session.user, session.csrf, session.token, lang_of(request))

    async def operator_login(self, request: web.Request) -> Login:
        login = await self.login_of(request)
        if login is None or login.user == SUPERVISOR:
            raise self._redirect("/login")
        return login

    async def posted_form(self, request: web.Request, login: Login) -> dict[str, str]:
        data = await request.post()  # the guard has checked its CSRF token already
        return {k: v for k, v in data.items() if isinstance(v, str)}

    # -- logging in and out --------------------------------------------------------------

    async def login_page(self, request: web.Request) -> web.Response:
        return self._login_form(request, "", "", 200)

    def _login_form(self, request: web.Request, error: str, user: str, status: int) -> web.Response:
        csrf = self.auth.pre_token(request)
        response = self._render(
            "login.html", status=status, lang=lang_of(request), error=error, user=user,
            csrf=csrf, phone=phone_of(request),
        )  # fmt: skip
        self.auth.keep_pre(request, response, csrf)
        return response

    async def login(self, request: web.Request) -> web.Response:
        data = await request.post()
        user = str(data.get("user", "")).strip()[:64]
        password = str(data.get("password", ""))
        wait = await self.auth.wait_seconds(request, user)
        if wait:  # the password is not even looked at
            return self._login_form(request, self.auth.throttled_text(request, wait), user, 429)
        known = user == SUPERVISOR or user in self.rules.operators
        if not (known and check_password(self.services.settings, user, password)):
            await self.auth.failed(request, user)
            error = tr(lang_of(request), "Unknown operator or wrong password.")
            return self._login_form(request, error, user, 401)
        await self.auth.succeeded(request, user)
        await self.auth.purge()
        response = self._redirect("/supervisor" if user == SUPERVISOR else "/")
        phone = str(data.get("phone", ""))
        if phone in PHONE_CHOICES:
            response.set_cookie(
                PHONE_COOKIE, phone, path=self.prefix, samesite="Strict", max_age=3600 * 24 * 365
            )
        await self.auth.begin(request, response, user)
        await self.sync_pauses()
        if user != SUPERVISOR:
            live = self.board.live(user)
            live.sessions += 1
            live.wants_available = not live.paused
            await store.note_operator(self.services.sessions, user, "login", self._now())
            self._desk_changed(user)
            self._watch_presence(user)  # paused if no console page opens
        raise response

    async def logout(self, request: web.Request) -> web.Response:
        login = await self.login_of(request)
        response = self._redirect("/login")
        await self.auth.end(request, response)
        if login is not None and login.user != SUPERVISOR:
            await self._left(login.user, everywhere=False)
        raise response

    async def logout_all(self, request: web.Request) -> web.Response:
        """Log this user out of every browser (a lost laptop, a shared desk)."""
        login = await self.login_of(request)
        response = self._redirect("/login")
        await self.auth.end(request, response)
        if login is not None:
            ended = await self.auth.end_all(login.user)
            log.info("console: %s logged out everywhere (%d more sessions)", login.user, ended)
            if login.user != SUPERVISOR:
                await self._left(login.user, everywhere=True)
        raise response

    async def _left(self, operator: str, *, everywhere: bool) -> None:
        live = self.board.live(operator)
        alive = set() if everywhere else await self.auth.users_with_sessions()
        live.sessions = 1 if operator in alive else 0
        if live.sessions == 0:  # nobody at the desk: no calls for this operator
            self._cancel_presence(operator)
            live.wants_available = False
            await self.desk.pause(operator, True, "logged out")
        await store.note_operator(self.services.sessions, operator, "logout", self._now())
        self._desk_changed(operator)

    # -- presence: the console's event stream --------------------------------------------

    def _watch_presence(self, operator: str) -> None:
        """Pause the operator unless a console page is open within the grace time."""
        self._cancel_presence(operator)
        if self.board.listening(operator):
            return
        delay = self.services.settings.console_gone_seconds
        loop = asyncio.get_running_loop()
        self._gone[operator] = loop.call_later(delay, self.desk.spawn, self._console_gone, operator)

    def _cancel_presence(self, operator: str) -> None:
        handle = self._gone.pop(operator, None)
        if handle is not None:
            handle.cancel()

    async def _console_gone(self, operator: str) -> None:
        self._gone.pop(operator, None)
        if self.board.listening(operator):
            return
        live = self.board.live(operator)
        live.wants_available = False
        log.warning("console: %s has had no console open: paused", operator)
        await self.desk.pause(operator, True, GONE_REASON)
        await store.note_operator(self.services.sessions, operator, "pause", self._now())
        self._desk_changed(operator)

    async def events(self, request: web.Request) -> web.StreamResponse:
        session = await self.auth.current(request)
        if session is None or session.user == SUPERVISOR:
            raise self._redirect("/login")
        operator = session.user
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        live = self.board.live(operator)
        live.sessions = max(live.sessions, 1)
        queue = self.board.listen(operator)
        self._cancel_presence(operator)
        try:
            await response.write(_sse({"kind": "hello", **live.view()}))
            while True:
                try:
                    news = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    if not await self.auth.keep_alive(session):
                        break  # the session expired or was ended elsewhere
                    await response.write(b": keep-alive\n\n")
                    continue
                if news is None:
                    break
                await response.write(_sse(news))
        except ConnectionResetError:
            pass  # the page was closed
        finally:
            self.board.unlisten(operator, queue)
            if not self.board.closing:
                self._watch_presence(operator)
        return response
