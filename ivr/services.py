"""What a route, a page or a scheduled step may use: passed in, never imported as module state.

The engine (ivr/engine.py, the process's wiring) builds one Services and hands it to every AGI
route and every feature; nothing else imports the wiring.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from ivr.config import Settings
from ivr.prompts import Prompts
from ivr.routing import OverridesFile, RulesHolder
from ivr.routing.overrides import OVERRIDES_FILE

if TYPE_CHECKING:
    from ivr.ami.client import AmiClient


log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


Listener = Callable[[str, dict[str, Any]], Awaitable[None]]


class News:
    """What one feature tells the others that AMI does not carry (an outcome saved on the
    console): topic and facts, to every listener in turn, each failure kept to itself."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def tell(self, topic: str, **facts: Any) -> None:
        for listener in list(self._listeners):
            try:
                await listener(topic, facts)
            except Exception:
                log.exception("a listener of %r failed", topic)


@dataclass
class Services:
    """The engine's shared parts: settings, rules, database sessions, clock, AMI."""

    settings: Settings
    rules: RulesHolder
    sessions: async_sessionmaker[Any]
    clock: Callable[[], datetime] = utcnow
    ami: AmiClient | None = None
    prompts: Prompts = field(init=False)
    overrides: OverridesFile = field(init=False)  # what `ivr override` set, read on change
    news: News = field(default_factory=News)

    def __post_init__(self) -> None:
        self.prompts = Prompts(self.settings)
        self.overrides = OverridesFile(self.settings.state_dir / OVERRIDES_FILE)
