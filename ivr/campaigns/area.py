"""The client's reserved area: its own campaigns' progress and outcomes, and nothing else.

client_campaigns() gives the figures of one client's campaigns (only its own: the client id
is the filter, never a parameter of the page), render_client_campaigns() an HTML fragment
(escaped, in the client's language and time zone); CampaignsPage is the area's page of them.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from aiohttp import web

from ivr.area.pages import Page
from ivr.campaigns import lists, store
from ivr.campaigns.model import VERIFICATION, Campaigns
from ivr.campaigns.report import Progress, progress
from ivr.i18n import Templates

FOLDER = Path(__file__).resolve().parent / "templates"
TEMPLATES = Templates(FOLDER)


async def client_campaigns(
    sessions: store.Sessions, campaigns: Campaigns, client_id: str, now: datetime
) -> list[Progress]:
    states = await store.states(sessions)
    out = []
    for campaign in campaigns.by_id.values():
        if campaign.client_id != client_id:
            continue
        state = states.get(campaign.id)
        out.append(await progress(sessions, campaign, state.status if state else "new", now))
    return out


def render_client_campaigns(rows: list[Progress], lang: str, zone: str = "Europe/Rome") -> str:
    return TEMPLATES.render("area_campaigns.html", lang, rows=rows, zone=zone)


class CampaignsPage(Page):
    """The area's page of the client's campaigns (its verification calls are shown with each
    result on the billing page instead)."""

    slug = "campaigns"
    title = "Campaigns"
    templates = FOLDER

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/campaigns", self.show)]

    async def show(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request)
        services = self.area.services
        found = services.campaigns() if services.campaigns is not None else Campaigns()
        shown = Campaigns({k: c for k, c in found.by_id.items() if c.kind != VERIFICATION})
        rows = await client_campaigns(services.sessions, shown, ctx.client_id, services.clock())
        # the client's own list (an erased number is kept as its hash only: not shown)
        dnc = [
            row for row in await lists.do_not_call(services.sessions, ctx.client_id)
            if row.number.startswith("+")
        ]  # fmt: skip
        return await self.area.page(request, ctx, "area_campaigns_page.html", rows=rows,
                                    zone=ctx.zone, dnc=dnc)  # fmt: skip
