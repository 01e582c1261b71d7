"""The on-call line of the operator's card: who is on call now for the call's client, and
until when (in the client's time zone). Plugged into the console like the put-through part."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from markupsafe import Markup

from ivr.feature import Feature
from ivr.i18n import Templates
from ivr.oncall import store as oncall
from ivr.records import repo

if TYPE_CHECKING:
    from ivr.portal import Portal
    from ivr.portal.access import Login
    from ivr.portal.board import Live
    from ivr.services import Services

HERE = Path(__file__).resolve().parent


class OnCallCard:
    def __init__(self, feature: OnCallDesk) -> None:
        self.feature = feature
        self.templates = Templates(HERE / "templates")

    def desk_changed(self, operator: str) -> None:
        return None

    async def panel(self, login: Login, live: Live, request: web.Request | None) -> str | None:
        return None

    def add_routes(self, app: web.Application) -> None:
        return None

    async def card(self, login: Login, live: Live, call: repo.CallRecord) -> Markup | None:
        services = self.feature.services
        client = services.rules.current.clients.get(call.client_id or "")
        if client is None or client.on_call is None:
            return None
        duty = await oncall.duty_now(services.sessions, client, services.clock())
        person = client.people.get(duty.person) if duty else None
        html = self.templates.render(
            "on_call_card.html", login.lang, duty=duty, person=person, zone=client.card.timezone
        )
        return Markup(html)  # noqa: S704  (rendered by an autoescaping template)


class OnCallDesk(Feature):
    name = "on_call"

    def __init__(self, services: Services, portal: Portal) -> None:
        super().__init__(services)
        portal.extend(OnCallCard(self))
