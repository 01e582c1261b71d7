"""The operator console and the supervisor page: an aiohttp app, served by the engine under
/console on its HTTP port (loopback).

Portal holds what lives only as long as the engine: the console logins and the board of what
each operator is doing (fed by the engine's AMI events). Everything worth keeping (outcomes,
queue events) goes to the database.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aiohttp import web

from ivr.ami.message import Message
from ivr.feature import Feature
from ivr.i18n import LANGUAGES, Templates, tr
from ivr.portal import store
from ivr.portal.access import LANG_COOKIE, ConsoleAccess, Login, phone_of
from ivr.portal.auth import SUPERVISOR
from ivr.portal.board import STATES, Live
from ivr.portal.desk import Desk
from ivr.portal.extension import ConsoleExtension
from ivr.portal.forms import (
    CATEGORIES,
    LIMITS,
    OutcomeForm,
    call_outcome_labels,
    category_labels,
    read_outcome,
)
from ivr.portal.occupancy import Figures, QueueDays, Tally
from ivr.portal.supervise import SupervisorPage
from ivr.records import repo
from ivr.records.outbox import WAKE as OUTBOX
from ivr.selfservice.store import card_for
from ivr.web.auth import Guard, Policy, WebAuth

if TYPE_CHECKING:
    from ivr.routing.model import Rules
    from ivr.services import Services

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "ivr_console"
BODY_LIMIT = 64 * 1024  # the outcome form is a few KiB
HISTORY = 5  # earlier calls of the caller shown on the card


def _local(value: datetime | None, zone: str = "UTC") -> str:
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def state_labels(lang: str) -> dict[str, str]:
    """The operator's states as the console and the supervisor show them."""
    labels = {
        "available": tr(lang, "available"),
        "paused": tr(lang, "paused"),
        "ringing": tr(lang, "ringing"),
        "on call": tr(lang, "on call"),
        "on hold": tr(lang, "on hold"),
        "putting through": tr(lang, "putting through"),
        "wrap-up": tr(lang, "wrap-up"),
        "offline": tr(lang, "offline"),
    }
    assert set(labels) == set(STATES)
    return labels


def greeting_of(text: str, operator: str) -> str:
    """The client's greeting with the operator's name in its {operator} placeholder."""
    return text.replace("{operator}", operator)


class Portal(ConsoleAccess, SupervisorPage, Feature):
    name = "console"

    def __init__(self, services: Services, prefix: str = "/console") -> None:
        super().__init__(services)
        self.prefix = prefix
        self.desk = Desk(services)
        self.board = self.desk.board
        self.relay = self.desk.relay
        self.auth = WebAuth(
            services.sessions,
            "console",
            COOKIE,
            prefix,
            Policy.of(services.settings),
            clock=lambda: self.services.clock(),
        )
        self._gone: dict[str, asyncio.TimerHandle] = {}
        # Every value is text (autoescaped): a caller's name or message is never markup.
        self.templates = Templates(TEMPLATES, filters={"local": _local})
        # Other features' parts of the console (the outbound card): their routes, their card
        # in place of the inbound one, told when an operator logs in, out or changes state.
        self.extensions: list[ConsoleExtension] = []
        self._built = False
        # Today's occupancy and each inbound queue's day, live (the page and /metrics).
        self.tally = Tally()
        self.queue_days = QueueDays(store.ANSWERED_WITHIN)
        services.metrics.registry.register(Figures(self.tally, self.queue_days, self.claimed_busy))
        self.desk.queue_row_heard.append(self._queue_row)
        self.desk.board_moved.append(self.look)

    def extend(self, extension: ConsoleExtension) -> None:
        if self._built:  # its routes would be served by no app, and walked by no test
            raise RuntimeError("the console is extended when its features are built")
        self.extensions.append(extension)

    async def pause(self, operator: str, paused: bool, reason: str) -> str | None:
        """Pause or unpause the operator in every queue; an error message, or None."""
        return await self.desk.pause(operator, paused, reason)

    async def end_wrapup(self, operator: str, linkedid: str) -> None:
        """The outcome of `linkedid` is written down: the wrap-up rules of an inbound call."""
        await self.desk.end_wrapup(operator, linkedid)

    @property
    def rules(self) -> Rules:
        return self.desk.rules

    # -- the engine's hooks: the desk's state ------------------------------------------------

    async def on_event(self, event: Message) -> None:
        """Called by the engine for every AMI event, after the call records."""
        await self.desk.on_event(event)

    async def on_ami_connected(self) -> None:
        await self.desk.on_ami_connected()

    async def sync_devices(self) -> None:
        await self.desk.sync_devices()

    async def sync_pauses(self) -> None:
        await self.desk.sync_pauses()

    async def start(self) -> None:
        await self.desk.start()

    async def close(self) -> None:
        for operator in list(self._gone):
            self._cancel_presence(operator)
        await self.desk.close()

    def today(self) -> datetime:
        """Midnight of today, the start of the supervisor's figures."""
        return self._now().replace(hour=0, minute=0, second=0, microsecond=0)

    def look(self) -> None:
        """Count the operators' time up to now (at every change and every read)."""
        self.tally.observe(self._now(), self.today(), self.board.operators)

    def _queue_row(self, row: dict[str, Any]) -> None:
        self.queue_days.start(self.today())
        self.queue_days.add(row["kind"], row["queue"], row["wait"])

    def _desk_changed(self, operator: str) -> None:
        self.look()
        for extension in self.extensions:
            extension.desk_changed(operator)

    async def _extension_panel(self, login: Login, request: web.Request | None) -> str | None:
        for extension in self.extensions:
            html = await extension.panel(login, self.board.live(login.user), request)
            if html is not None:
                return str(html)
        return None

    async def _card_parts(self, login: Login, call: repo.CallRecord) -> list[str]:
        """What other features add to the inbound call's card (people to put through to)."""
        parts = []
        for extension in self.extensions:
            html = await extension.card(login, self.board.live(login.user), call)
            if html:
                parts.append(str(html))
        return parts

    # -- the app ---------------------------------------------------------------------------

    def web_apps(self) -> dict[str, web.Application]:
        return {self.prefix: self.app()}

    def app(self) -> web.Application:
        self._built = True
        app = Guard(self.auth, BODY_LIMIT).app()
        app.router.add_get("/", self.console)
        app.router.add_get("/login", self.login_page)
        app.router.add_post("/login", self.login)
        app.router.add_post("/logout", self.logout)
        app.router.add_post("/logout-all", self.logout_all)
        app.router.add_post("/state", self.set_state)
        app.router.add_get("/panel", self.panel)
        app.router.add_get("/events", self.events)
        app.router.add_post("/outcome", self.save_outcome)
        app.router.add_get("/supervisor", self.supervisor)
        app.router.add_post("/language", self.set_language)
        app.router.add_static("/static", STATIC)
        for extension in self.extensions:
            extension.add_routes(app)

        async def on_shutdown(_app: web.Application) -> None:
            await self.close()  # ends the event streams, which would hold the shutdown

        app.on_shutdown.append(on_shutdown)
        return app

    def _render(self, name: str, status: int = 200, *, lang: str, **context: Any) -> web.Response:
        text = self.templates.render(
            name, lang, root=self.prefix, states=state_labels(lang), **context
        )
        return web.Response(text=text, status=status, content_type="text/html")

    def _redirect(self, path: str) -> web.HTTPSeeOther:
        return web.HTTPSeeOther(f"{self.prefix}{path}")

    async def set_language(self, request: web.Request) -> web.Response:
        """The language of the console on this browser (a cookie; the login keeps it)."""
        login = await self.login_of(request)
        data = await request.post()  # the guard has checked its CSRF token already
        wanted = str(data.get("lang", ""))
        if wanted not in LANGUAGES:
            raise web.HTTPBadRequest(text="lang is it or en")
        response = self._redirect("/supervisor" if login and login.user == SUPERVISOR else "/")
        response.set_cookie(
            LANG_COOKIE, wanted, path=self.prefix, httponly=True, samesite="Strict",
            max_age=3600 * 24 * 365,
        )  # fmt: skip
        raise response

    async def set_state(self, request: web.Request) -> web.Response:
        login = await self.operator_login(request)
        form = await self.posted_form(request, login)
        wanted = form.get("state")
        if wanted not in {"available", "pause"}:
            raise web.HTTPBadRequest(text="state is available or pause")
        live = self.board.live(login.user)
        live.wants_available = wanted == "available"
        error = None
        if not live.wrap_up:  # during wrap-up the choice applies when it ends
            reason = "" if live.wants_available else "break"
            error = await self.desk.pause(login.user, wanted == "pause", reason)
        await store.note_operator(self.services.sessions, login.user, wanted, self._now())
        self._desk_changed(login.user)
        if error:
            problem = tr(login.lang, "Asterisk refused: %(error)s", error=error)
            return await self._console(login, status=502, problem=problem)
        raise self._redirect("/")

    # -- the console page ------------------------------------------------------------------

    async def console(self, request: web.Request) -> web.Response:
        login = await self.login_of(request)
        if login is None:
            raise self._redirect("/login")
        if login.user == SUPERVISOR:
            raise self._redirect("/supervisor")
        saved = request.query.get("saved", "")
        return await self._console(login, saved=saved, request=request)

    async def _console(
        self,
        login: Login,
        *,
        status: int = 200,
        form: OutcomeForm | None = None,
        saved: str = "",
        problem: str = "",
        request: web.Request | None = None,
        panel_html: str | None = None,
    ) -> web.Response:
        live = self.board.live(login.user)
        if panel_html is None and form is None:
            panel_html = await self._extension_panel(login, request)
        panel = await self._panel_context(login, form)
        recent = await self._recent(login.user)
        return self._render(
            "console.html",
            status=status,
            lang=login.lang,
            login=login,
            live=live,
            operator=self.rules.operators[login.user],
            saved=saved,
            problem=problem,
            recent=recent,
            panel_html=panel_html,
            # Drawn as this browser chose, so the box is right before the page's script runs.
            phone=phone_of(request) if request is not None else "page",
            **panel,
        )

    async def console_page(
        self, login: Login, request: web.Request, panel_html: str | None = None,
        status: int = 200, problem: str = "", saved: str = "",
    ) -> web.Response:  # fmt: skip
        """The console with another feature's card in the panel (a form shown again), or a
        problem shown; `saved`, the call whose outcome was just written down."""
        return await self._console(
            login, status=status, request=request, panel_html=panel_html, problem=problem,
            saved=saved,
        )  # fmt: skip

    async def panel(self, request: web.Request) -> web.Response:
        login = await self.operator_login(request)
        html = await self._extension_panel(login, request)
        if html is not None:
            return self._render("frame.html", lang=login.lang, body=html)
        context = await self._panel_context(login, None)
        return self._render("panel.html", lang=login.lang, login=login, **context)

    def _current_call(self, live: Live) -> str | None:
        return live.on_call or live.ringing or live.last_call

    async def _panel_context(self, login: Login, form: OutcomeForm | None) -> dict[str, Any]:
        live = self.board.live(login.user)
        linkedid = form.linkedid if form is not None else self._current_call(live)
        sessions = self.services.sessions
        call = await repo.get_call(sessions, linkedid) if linkedid else None
        outcome = await store.get_outcome(sessions, linkedid) if linkedid else None
        if form is None and outcome is not None and linkedid not in (live.on_call, live.ringing):
            call = None  # written down and over: wait for the next call
        card = None
        greeting = ""
        parts: list[str] = []
        history: list[repo.CallRecord] = []
        earlier: dict[str, store.Outcome] = {}
        scripted = False
        if call is not None:
            parts = await self._card_parts(login, call)
            if any(getattr(e, "replaces_outcome", lambda _c: False)(call) for e in self.extensions):
                scripted = True  # the client's script takes the message in its own way
        if call is not None and call.client_id:
            client = self.rules.clients.get(call.client_id)
            card = await card_for(sessions, client.card) if client else None
            me = self.rules.operators.get(login.user)
            greeting = greeting_of(card.greeting, me.name if me else login.user) if card else ""
            history = await repo.caller_history(
                sessions,
                call.client_id,
                call.caller_number or "",
                HISTORY,
                exclude_linkedid=call.linkedid,
            )
            earlier = await store.outcomes_for(sessions, [h.linkedid for h in history])
        if form is None and call is not None and not scripted:
            form = OutcomeForm(linkedid=call.linkedid, callback=call.caller_number or "")
            if outcome is not None:
                form = OutcomeForm(
                    linkedid=call.linkedid,
                    caller_name=outcome.caller_name,
                    callback=outcome.callback,
                    message=outcome.message,
                    category=outcome.category,
                    urgent=outcome.urgent,
                )
        return {
            "call": call,
            "card": card,
            "greeting": greeting,
            "parts": parts,
            "history": history,
            "earlier": earlier,
            "form": form,
            "state": live.state,
            "categories": CATEGORIES,
            "category_labels": category_labels(login.lang),
            "outcome_labels": call_outcome_labels(login.lang),
            "limits": LIMITS,
            "zone": card.timezone if card else "UTC",
        }

    async def _recent(
        self, operator: str
    ) -> list[tuple[repo.CallRecord, store.Outcome | None, str]]:
        """The operator's last calls, each with its outcome and its client's time zone."""
        endpoint = self.rules.operators[operator].endpoint
        calls = [c for c in await repo.list_calls(self.services.sessions, limit=200)]
        mine = [c for c in calls if c.operator == endpoint][:10]
        outcomes = await store.outcomes_for(self.services.sessions, [c.linkedid for c in mine])
        return [(c, outcomes.get(c.linkedid), self._zone_of(c.client_id)) for c in mine]

    def _zone_of(self, client_id: str | None) -> str:
        client = self.rules.clients.get(client_id or "")
        return client.card.timezone if client else "Europe/Rome"

    # -- the outcome ---------------------------------------------------------------------

    async def save_outcome(self, request: web.Request) -> web.Response:
        login = await self.operator_login(request)
        data = await self.posted_form(request, login)
        form = read_outcome(data, login.lang)
        live = self.board.live(login.user)
        call = await repo.get_call(self.services.sessions, form.linkedid) if form.ok else None
        if form.ok and not self.may_write(login.user, live, call):
            form.errors["linkedid"] = tr(
                login.lang, "This call was not answered by you: it cannot be saved here."
            )
        if not form.ok:
            return await self._console(login, status=422, form=form)
        assert call is not None
        outcome = store.Outcome(
            linkedid=call.linkedid,
            operator=login.user,
            client_id=call.client_id,
            caller_name=form.caller_name,
            callback=form.callback_digits,
            message=form.message,
            category=form.category,
            urgent=form.urgent,
            escalation=None,
            saved_at=self._now(),
        )
        await store.save_outcome(self.services.sessions, outcome)
        await self.services.wake.send(OUTBOX, call.client_id or "")  # the client's users
        if form.urgent:
            note = await self.escalate(call, outcome)
            await store.set_escalation(self.services.sessions, call.linkedid, note)
        log.info("outcome of call %s saved by %s", call.linkedid, login.user)
        await self.end_wrapup(login.user, call.linkedid)
        if form.notes:
            return await self._console(login, saved=call.linkedid, problem=" ".join(form.notes))
        raise self._redirect(f"/?saved={call.linkedid}")

    def may_write(self, operator: str, live: Live, call: repo.CallRecord | None) -> bool:
        """Whether this operator may write down the outcome of `call` (theirs, or just over)."""
        if call is None:
            return False
        if call.linkedid in (live.on_call, live.ringing, live.last_call):
            return True
        return call.operator == self.rules.operators[operator].endpoint

    async def escalate(
        self, call: repo.CallRecord, outcome: store.Outcome, ladder: str | None = None
    ) -> str:
        """Start `ladder` (by default the client's first) for an urgent call; say what
        happened."""
        ladder = ladder or self._ladder_of(call.client_id)
        if ladder is None:
            return "urgent: no escalation ladder in this client's rules (flag recorded only)"
        try:
            from ivr.escalation.store import start_escalation
        except ImportError:
            return "urgent: escalation is not available in this engine (flag recorded only)"
        try:
            run = await start_escalation(
                self.services,
                linkedid=call.linkedid,
                client_id=call.client_id,
                ladder=ladder,
                message_path=call.message_path,
                caller_name=outcome.caller_name,
                callback=outcome.callback,
                caller_number=call.caller_number,
            )
        except Exception as exc:  # the outcome is saved; the escalation is reported
            log.exception("escalation of call %s failed to start", call.linkedid)
            return f"urgent: escalation {ladder} could not start: {exc}"
        return f"urgent: escalation {ladder} started (run {run})"

    def _ladder_of(self, client_id: str | None) -> str | None:
        return next(iter(self.rules.ladders_of(client_id)), None)
