"""The scripts feature: the script's part of the operator's card (console.py)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ivr.feature import Feature
from ivr.oncall import store as oncall
from ivr.scripts.console import PutThrough, ScriptConsole

if TYPE_CHECKING:
    from ivr.portal import Portal
    from ivr.services import Services


class ScriptDesk(Feature):
    name = "scripts"

    def __init__(self, services: Services, portal: Portal, put_through: PutThrough) -> None:
        super().__init__(services)
        self.portal = portal
        self.put_through = put_through  # the put-through feature's, for an end that asks it
        self.console = ScriptConsole(self)
        portal.extend(self.console)

    async def on_call_person(self, client_id: str | None, now: datetime) -> str | None:
        """The person of the client's on call at `now`; None: nobody."""
        client = self.services.rules.current.clients.get(client_id or "")
        if client is None:
            return None
        duty = await oncall.duty_now(self.services.sessions, client, now)
        return duty.person if duty is not None and duty.person in client.people else None
