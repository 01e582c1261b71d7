"""The pages of the client area. Each page is a class of its own feature's package; the area
serves the ones listed in build(), in that order in the menu. A new feature adds its page as
a module of its own package (a Page subclass with its routes and, if it has any, its own
templates folder and locale/it.po) and one line below; no other page changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from ivr.area.app import Area


class Page:
    """One page of the area: a menu entry (slug, title) and the routes under /area/<slug>."""

    slug = ""
    title = ""  # an English msgid, translated when the menu is shown
    admin_only = False  # shown to, and served for, the client's admins only
    templates: Path | None = None  # the page's own templates, if not the area's

    def __init__(self, area: Area) -> None:
        self.area = area

    def routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    def sound_file(self, path: str | None, folder: str) -> web.FileResponse:
        """A recording for the browser to play, only from inside the instance's `folder`
        (messages, recordings): a path read from the database goes nowhere else. 404 if
        it is not there."""
        settings = self.area.services.settings
        root = settings.host_path(settings.run_dir / folder).resolve()
        try:
            found = settings.host_path(Path(path)).resolve() if path else None
        except (ValueError, OSError):
            found = None
        if found is None or not found.is_relative_to(root) or not found.is_file():
            raise web.HTTPNotFound()
        response = web.FileResponse(found, headers={"Content-Type": "audio/wav"})
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["Content-Disposition"] = "inline"
        return response


def build(area: Area) -> list[Page]:
    from ivr.area.account import AccountPage
    from ivr.area.calls import CallsPage
    from ivr.area.dashboard import DashboardPage
    from ivr.area.selfservice import SelfServicePage
    from ivr.area.team import TeamPage
    from ivr.billing.area import BillingPage
    from ivr.campaigns.area import CampaignsPage
    from ivr.dispatch.area import WebhookPage
    from ivr.oncall.area import OnCallPage
    from ivr.putthrough.area import PeoplePage
    from ivr.scripts.area import ScriptPage

    return [
        CallsPage(area),
        DashboardPage(area),
        CampaignsPage(area),
        BillingPage(area),
        SelfServicePage(area),
        PeoplePage(area),
        OnCallPage(area),
        ScriptPage(area),
        TeamPage(area),
        WebhookPage(area),
        AccountPage(area),
    ]
