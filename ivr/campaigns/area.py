"""The client's reserved area: its own campaigns' progress and outcomes, and nothing else.

For the area's pages: client_campaigns() gives the figures of one client's campaigns (only
its own: the client id is the filter, never a parameter of the page), render_client_campaigns()
an HTML fragment (escaped, in the client's language and time zone) to place in a page:

    rows = await client_campaigns(services.sessions, dialer.campaigns, client_id, now)
    html = render_client_campaigns(rows, lang)
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ivr.campaigns import store
from ivr.campaigns.model import Campaigns
from ivr.campaigns.report import Progress, progress
from ivr.i18n import Templates

TEMPLATES = Templates(Path(__file__).resolve().parent / "templates")


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
