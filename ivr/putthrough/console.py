"""The put-through part of the operator's console: on the inbound card, why the caller is on
one of the client's lists, the client's people with their presence and the buttons to put
the caller through (announced or direct), hold and resume, the attempts so far; and a search
over clients and their people for a caller who asks for someone.

Plugged into the console (ivr/portal) as an extension: it shares the console's logins and
CSRF guard; every page is rendered in the operator's language.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from markupsafe import Markup

from ivr.i18n import Templates, tr
from ivr.putthrough import store
from ivr.putthrough.models import ANNOUNCED, AVAILABLE, AWAY, DIRECT, MEETING
from ivr.records import repo

if TYPE_CHECKING:
    from ivr.portal.access import Login
    from ivr.portal.board import Live
    from ivr.portal.extension import Console
    from ivr.putthrough.service import PutThroughs
    from ivr.routing.model import Client

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
PORTAL_TEMPLATES = HERE.parent / "portal" / "templates"
HISTORY = 5
SEARCH_MAX = 20


def outcome_labels(lang: str) -> dict[str, str]:
    """How an attempt ended, as the card, the area and `ivr calls` say it."""
    return {
        "accepted": tr(lang, "put through"),
        "declined": tr(lang, "declined"),
        "no-answer": tr(lang, "no answer"),
        "no-key": tr(lang, "no key pressed"),
        "refused": tr(lang, "number refused"),
        "caller-hung-up": tr(lang, "the caller hung up"),
        "failed": tr(lang, "failed"),
        "lost": tr(lang, "lost"),
    }


def mode_labels(lang: str) -> dict[str, str]:
    return {
        "announced": tr(lang, "announced"),
        "direct": tr(lang, "direct"),
        "rules": tr(lang, "by the rules"),
    }


def screening_labels(lang: str) -> dict[str, str]:
    return {
        "always": tr(lang, "Always put through"),
        "never": tr(lang, "Never put through: take a message"),
        "urgent": tr(lang, "Put through only when urgent"),
    }


def problems(lang: str) -> dict[str, str]:
    """What the console says when a put-through or a hold could not be done."""
    return {
        "no-call": tr(lang, "You have no call to put through or hold."),
        "busy": tr(lang, "This call is already being put through."),
        "no-person": tr(lang, "This person is not one of the client's."),
        "refused": tr(lang, "None of this person's numbers may be dialled."),
        "asterisk": tr(lang, "Asterisk refused: the call stays with you."),
        "not-held": tr(lang, "The call is not on hold."),
        "presence": tr(lang, "Choose available, in a meeting until a time (HH:MM), or away."),
    }


class ConsoleExtension:
    def __init__(self, feature: PutThroughs) -> None:
        self.feature = feature
        self.portal: Console = feature.portal
        self.templates = Templates(HERE / "templates", PORTAL_TEMPLATES)

    def desk_changed(self, operator: str) -> None:
        return None

    async def panel(self, login: Login, live: Live, request: web.Request | None) -> str | None:
        return None  # the inbound card stays; this feature adds to it (card())

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/putthrough", self.put_through)
        app.router.add_post("/hold", self.hold)
        app.router.add_post("/resume", self.resume)
        app.router.add_post("/presence", self.set_presence)
        app.router.add_get("/search", self.search)

    # -- the card ---------------------------------------------------------------------------

    async def card(self, login: Login, live: Live, call: repo.CallRecord) -> Markup | None:
        services = self.feature.services
        client = services.rules.current.clients.get(call.client_id or "")
        if client is None:
            return None
        now = services.clock()
        presence = await store.presence_of(services.sessions, client.id, now)
        screened = client.screen(call.caller_number or "")
        earlier = await repo.caller_history(
            services.sessions,
            client.id,
            call.caller_number or "",
            HISTORY,
            exclude_linkedid=call.linkedid,
        )
        attempts = await store.for_calls(
            services.sessions, [call.linkedid, *(c.linkedid for c in earlier)]
        )
        rows = [a for c in [call, *earlier] for a in attempts.get(c.linkedid, [])]
        lang = login.lang
        html = self.templates.render(
            "card.html",
            lang,
            root=self.portal.prefix,
            login=login,
            live=live,
            call=call,
            client=client,
            people=self._people(client, presence, screened),
            screened=screened,
            screening_labels=screening_labels(lang),
            attempts=sorted(rows, key=lambda a: a.started_at, reverse=True),
            outcome_labels=outcome_labels(lang),
            mode_labels=mode_labels(lang),
            on_call=live.on_call == call.linkedid,
            held=login.user in self.feature.holds,
            zone=client.card.timezone,
            ANNOUNCED=ANNOUNCED,
            DIRECT=DIRECT,
        )
        return Markup(html)  # noqa: S704  (rendered by an autoescaping template)

    @staticmethod
    def _people(
        client: Client, presence: dict[str, store.Presence], screened: Any
    ) -> list[dict[str, Any]]:
        wanted = screened.to if screened is not None else None
        out = []
        for person in client.people.values():
            state = presence.get(person.id, store.Presence("available"))
            out.append({"person": person, "presence": state, "wanted": person.id == wanted})
        return sorted(out, key=lambda p: not p["wanted"])

    # -- actions ----------------------------------------------------------------------------

    async def _done(self, login: Login, request: web.Request, problem: str | None) -> web.Response:
        if problem is None:
            raise web.HTTPSeeOther(f"{self.portal.prefix}/")
        text = problems(login.lang).get(problem, problem)
        return await self.portal.console_page(login, request, status=409, problem=text)

    async def put_through(self, request: web.Request) -> web.Response:
        login = await self.portal.operator_login(request)
        data = await self.portal.posted_form(request, login)
        mode = data.get("mode", ANNOUNCED)
        if mode not in (ANNOUNCED, DIRECT):
            raise web.HTTPBadRequest(text="mode is announced or direct")
        problem = await self.feature.put_through(
            login.user,
            data.get("person", ""),
            mode,
            who=data.get("who", "").strip()[:100],
            why=data.get("why", "").strip()[:200],
        )
        return await self._done(login, request, problem)

    async def hold(self, request: web.Request) -> web.Response:
        login = await self.portal.operator_login(request)
        await self.portal.posted_form(request, login)
        return await self._done(login, request, await self.feature.hold(login.user))

    async def resume(self, request: web.Request) -> web.Response:
        login = await self.portal.operator_login(request)
        await self.portal.posted_form(request, login)
        return await self._done(login, request, await self.feature.resume(login.user))

    async def set_presence(self, request: web.Request) -> web.Response:
        """The center sets a person's presence (they phoned to say they are out): a person of
        the client of the operator's current or last call."""
        login = await self.portal.operator_login(request)
        data = await self.portal.posted_form(request, login)
        services = self.feature.services
        live = self.portal.board.live(login.user)
        linkedid = live.on_call or live.ringing or live.last_call
        call = await repo.get_call(services.sessions, linkedid) if linkedid else None
        client = services.rules.current.clients.get(call.client_id or "") if call else None
        person = client.people.get(data.get("person", "")) if client else None
        if client is None or person is None:
            return await self._done(login, request, "no-person")
        status, now = data.get("status", ""), services.clock()
        try:
            if status not in (AVAILABLE, MEETING, AWAY):
                raise ValueError(status)
            until = store.until_of(status, data.get("until", ""), now, client.card.timezone)
        except ValueError:
            return await self._done(login, request, "presence")
        note = " ".join(data.get("note", "").split())[:200]
        await store.set_presence(
            services.sessions, client.id, person.id, status, until, note, login.user, now
        )
        return await self._done(login, request, None)

    # -- search -----------------------------------------------------------------------------

    async def search(self, request: web.Request) -> web.Response:
        """Clients and people whose name, role or number holds the words asked for."""
        login = await self.portal.operator_login(request)
        query = request.query.get("q", "").strip()[:100]
        words = [w.casefold() for w in query.split()]
        services = self.feature.services
        found = []
        if words:
            for client in services.rules.current.clients.values():
                hay = " ".join([client.card.name, client.id, *client.numbers]).casefold()
                client_hit = all(w in hay for w in words)
                people = [
                    p
                    for p in client.people.values()
                    if client_hit
                    or all(
                        w in " ".join([p.name, p.role, *p.numbers, client.card.name]).casefold()
                        for w in words
                    )
                ]
                if client_hit or people:
                    presence = await store.presence_of(
                        services.sessions, client.id, services.clock()
                    )
                    found.append((client, people, presence))
                if len(found) >= SEARCH_MAX:
                    break
        text = self.templates.render(
            "search.html", login.lang, root=self.portal.prefix, login=login, query=query,
            found=found, zone="Europe/Rome",
        )  # fmt: skip
        return web.Response(text=text, content_type="text/html")
