"""What a route, a page or a scheduled step may use: passed in, never imported as module state.

The engine (ivr/engine.py, the process's wiring) builds one Services and hands it to every AGI
route and every feature; nothing else imports the wiring.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from ivr.alarm import Alarms
from ivr.clock import clock_of, utcnow
from ivr.config import Settings
from ivr.lease import Leases
from ivr.metrics import Metrics
from ivr.outbound import OutboundCalls
from ivr.prompts import Prompts
from ivr.routing import OverridesFile, RulesHolder
from ivr.routing.overrides import OVERRIDES_FILE, OverridesSource
from ivr.wake import Wakeups

if TYPE_CHECKING:
    from ivr.ami.client import AmiClient
    from ivr.records.facts import Fact, Row
    from ivr.records.writer import RecordWriter


log = logging.getLogger(__name__)
__all__ = ["Services", "clock_of", "utcnow"]  # the clock lives in ivr.clock


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
    # The outbound campaigns in force (ivr.campaigns.model.Campaigns), for the AGI routes;
    # set by the campaigns' feature when it starts.
    campaigns: Callable[[], Any] | None = None
    records: RecordWriter | None = None
    # Putting callers through (ivr.putthrough.service.PutThroughs), for its AGI routes; set
    # by that feature when it starts.
    put_through: Any = None
    metrics: Metrics = field(default_factory=Metrics)
    alarms: Alarms = field(default_factory=Alarms)
    prompts: Prompts = field(init=False)
    overrides: OverridesSource = field(init=False)  # what `ivr override` set, read on change
    outbound: OutboundCalls = field(init=False)  # calls out now; may_dial() for every number
    # Wake-ups between parts, and between engines on PostgreSQL (ivr.wake): a part that
    # wrote work for another (an outbox row) wakes it instead of it polling the database.
    wake: Wakeups = field(default_factory=Wakeups)
    # Which scheduler runs in this engine (ivr/lease.py): each job in one engine at a time;
    # without the engine's wiring (one engine, SQLite) every job runs here.
    leases: Leases = field(default_factory=Leases)

    def __post_init__(self) -> None:
        if self.alarms.wakeups is None:
            self.alarms.wakeups = self.wake
        self.prompts = Prompts(self.settings)
        self.outbound = OutboundCalls(self.settings)
        self.overrides = OverridesFile(self.settings.shared_state / OVERRIDES_FILE)

    def record(self, *items: Fact | Row) -> None:
        """Hand facts to the records writer: no I/O, the call goes on at once."""
        if self.records is None:
            raise RuntimeError("no records writer: the engine is not running")
        self.records.submit(items)
