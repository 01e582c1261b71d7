"""What a route, a page or a scheduled step may use: passed in, never imported as module state.

The engine (ivr/engine.py, the process's wiring) builds one Services and hands it to every AGI
route and every feature; nothing else imports the wiring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from ivr.alarm import Alarms
from ivr.config import Settings
from ivr.metrics import Metrics
from ivr.outbound import OutboundCalls
from ivr.prompts import Prompts
from ivr.routing import OverridesFile, RulesHolder
from ivr.routing.overrides import OVERRIDES_FILE

if TYPE_CHECKING:
    from ivr.ami.client import AmiClient
    from ivr.records.facts import Fact, Row
    from ivr.records.writer import RecordWriter


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """The engine's shared parts: settings, rules, database sessions, clock, AMI, the
    records writer (facts go there, never straight to the database on a call's path), the
    schedulers' alarms and the metrics."""

    settings: Settings
    rules: RulesHolder
    sessions: async_sessionmaker[Any]
    clock: Callable[[], datetime] = utcnow
    ami: AmiClient | None = None
    records: RecordWriter | None = None
    metrics: Metrics = field(default_factory=Metrics)
    alarms: Alarms = field(default_factory=Alarms)
    prompts: Prompts = field(init=False)
    overrides: OverridesFile = field(init=False)  # what `ivr override` set, read on change
    outbound: OutboundCalls = field(init=False)  # calls out now; may_dial() for every number

    def __post_init__(self) -> None:
        self.prompts = Prompts(self.settings)
        self.outbound = OutboundCalls(self.settings)
        self.overrides = OverridesFile(self.settings.state_dir / OVERRIDES_FILE)

    def record(self, *items: Fact | Row) -> None:
        """Hand facts to the records writer: no I/O, the call goes on at once."""
        if self.records is None:
            raise RuntimeError("no records writer: the engine is not running")
        self.records.submit(items)
