"""A feature plugs into the engine here: started and closed with it, told of every AMI event
after the call records are written, and serving its web pages under a prefix of the engine's
HTTP port. The list of features the engine runs is ivr/features.py; the engine itself knows
none of them by name.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiohttp import web

    from ivr.ami.message import Message
    from ivr.services import Services

log = logging.getLogger(__name__)


class Feature:
    """Base of every feature: each hook does nothing until a feature overrides it."""

    name = "feature"

    def __init__(self, services: Services) -> None:
        self.services = services

    async def start(self) -> None:
        """Called once the AGI server and the AMI client are started."""

    async def close(self) -> None:
        """Called at shutdown, before the AMI client and the database are closed."""

    async def on_events(self, events: Sequence[Message]) -> None:
        """AMI events as they queued up, in order, once their call records are written.

        The default hands each to on_event and keeps a failure to its event.
        """
        for event in events:
            try:
                await self.on_event(event)
            except Exception:
                log.exception("%s: handling AMI %s failed", self.name, event.event)

    async def on_event(self, event: Message) -> None:
        """One AMI event (see on_events)."""

    async def on_ami_connected(self) -> None:
        """The AMI client has just logged in (again): resynchronise what Asterisk knows."""

    def web_apps(self) -> dict[str, web.Application]:
        """The aiohttp sub-applications this feature serves, by path prefix."""
        return {}

    def control_apps(self) -> dict[str, web.Application]:
        """Sub-applications of the control API (commands, other engines), by path prefix:
        served only to requests bearing the engine's control token."""
        return {}

    def status(self) -> dict[str, Any] | None:
        """What `ivr status` shows of this feature; None shows nothing."""
        return None
