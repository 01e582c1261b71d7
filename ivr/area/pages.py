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


def build(area: Area) -> list[Page]:
    from ivr.area.account import AccountPage
    from ivr.area.calls import CallsPage
    from ivr.area.dashboard import DashboardPage
    from ivr.area.selfservice import SelfServicePage
    from ivr.area.team import TeamPage
    from ivr.putthrough.area import PeoplePage

    return [
        CallsPage(area),
        DashboardPage(area),
        SelfServicePage(area),
        PeoplePage(area),
        TeamPage(area),
        AccountPage(area),
    ]
