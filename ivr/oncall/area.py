"""On call, in the client's area: who is on call now and until when, the rotation and
periods of the client's file, and the periods its admin adds (holidays, cover), which take
precedence over the file's."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from aiohttp import web

from ivr.area.pages import Page
from ivr.i18n import tr
from ivr.oncall import store as oncall
from ivr.routing.oncall import period_of
from ivr.selfservice.store import audit

WHY_MAX = 200


class OnCallPage(Page):
    slug = "on-call"
    title = "On call"
    templates = Path(__file__).resolve().parent / "templates"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/on-call", self.show),
            web.post("/on-call", self.add),
            web.post("/on-call/{period_id}/remove", self.remove),
        ]

    async def show(self, request: web.Request, status: int = 200, error: str = "") -> web.Response:
        ctx = await self.area.ctx(request)
        services = self.area.services
        now = services.clock()
        client = ctx.client
        return await self.area.page(
            request, ctx, "area_on_call.html", status,
            duty=await oncall.duty_now(services.sessions, client, now),
            on_call=client.on_call, people=client.people,
            added=await oncall.periods_of(services.sessions, client.id, after=now),
            error=error, saved=request.query.get("saved", ""),
        )  # fmt: skip

    async def add(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request, admin=True)
        client = ctx.client
        if client.on_call is None:
            raise web.HTTPNotFound()
        form = await request.post()
        person = str(form.get("person", ""))
        why = " ".join(str(form.get("why", "")).split())[:WHY_MAX]
        try:
            start = date.fromisoformat(str(form.get("start", "")))
            end = date.fromisoformat(str(form.get("end", "")))
            if person not in client.people or end < start:
                raise ValueError(person)
        except ValueError:
            error = tr(ctx.lang, "Choose a person and the first and last day (not before it).")
            return await self.show(request, 422, error)
        services = self.area.services
        now = services.clock()
        period = period_of(start, end, person, why, client.on_call.zone)
        await oncall.add_period(services.sessions, client.id, period, ctx.user.email, now)
        detail = {"person": person, "start": start.isoformat(), "end": end.isoformat(), "why": why}
        await audit(services.sessions, client.id, ctx.user.email, "on-call", detail, now)
        raise web.HTTPSeeOther(f"{self.area.prefix}/on-call?saved=1")

    async def remove(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request, admin=True)
        try:
            ident = int(request.match_info["period_id"])
        except ValueError as exc:
            raise web.HTTPNotFound() from exc
        services = self.area.services
        if not await oncall.remove_period(services.sessions, ctx.client_id, ident):
            raise web.HTTPNotFound()  # another client's period, or none
        now = services.clock()
        await audit(services.sessions, ctx.client_id, ctx.user.email, "on-call",
                    {"removed": ident}, now)  # fmt: skip
        raise web.HTTPSeeOther(f"{self.area.prefix}/on-call?saved=1")
