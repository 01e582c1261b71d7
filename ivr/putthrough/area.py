"""The client's people in its reserved area: each one's presence ("available", "in a meeting
until 15:00", "away today"), which decides whether the operator offers to put a caller
through, and the put-through attempts of the client's calls."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from ivr.area.pages import Page
from ivr.i18n import tr
from ivr.putthrough import store
from ivr.putthrough.console import mode_labels, outcome_labels
from ivr.putthrough.models import AVAILABLE, AWAY, MEETING
from ivr.putthrough.store import until_of

ATTEMPTS = 50
NOTE_MAX = 200


class PeoplePage(Page):
    slug = "people"
    title = "People"
    templates = Path(__file__).resolve().parent / "templates"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/people", self.show),
            web.post("/people/{person_id}/presence", self.set_presence),
        ]

    async def show(self, request: web.Request, status: int = 200, error: str = "") -> web.Response:
        ctx = await self.area.ctx(request)
        services = self.area.services
        presence = await store.presence_of(services.sessions, ctx.client_id, services.clock())
        attempts = await store.for_client(services.sessions, ctx.client_id, ATTEMPTS)
        return await self.area.page(
            request,
            ctx,
            "area_people.html",
            status,
            people=list(ctx.client.people.values()),
            presence=presence,
            attempts=attempts,
            outcome_labels=outcome_labels(ctx.lang),
            mode_labels=mode_labels(ctx.lang),
            error=error,
            saved=request.query.get("saved", ""),
        )

    async def set_presence(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request)
        person = ctx.client.people.get(request.match_info["person_id"])
        if person is None:
            raise web.HTTPNotFound()
        form = await request.post()
        status = str(form.get("status", ""))
        note = " ".join(str(form.get("note", "")).split())[:NOTE_MAX]
        now = self.area.services.clock()
        try:
            if status not in (AVAILABLE, MEETING, AWAY):
                raise ValueError(status)
            until = until_of(status, str(form.get("until", "")), now, ctx.zone)
        except ValueError:
            error = tr(ctx.lang, "Choose available, in a meeting until a time (HH:MM), or away.")
            return await self.show(request, 422, error)
        await store.set_presence(
            self.area.services.sessions, ctx.client_id, person.id, status, until, note,
            ctx.user.email, now,
        )  # fmt: skip
        raise web.HTTPSeeOther(f"{self.area.prefix}/people?saved={person.id}")
