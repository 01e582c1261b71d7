"""A loaded campaign: frozen, checked, with everything the dialer and the console need."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ivr.campaigns.windows import CallingWindow
from ivr.routing.clock import HolidayBook
from ivr.routing.source import Problem

REMINDER, APPOINTMENT, PROMOTION = "reminder", "appointment", "promotion"
KINDS = (REMINDER, APPOINTMENT, PROMOTION)
# Not written in a file: each appointment campaign billed per result has one, made by the
# loader (ivr/billing/verify.py), whose contacts are the visited businesses drawn or contested.
VERIFICATION = "verification"
PREVIEW, PROGRESSIVE, RATIO, PREDICTIVE = "preview", "progressive", "ratio", "predictive"
# Modes that place lines for no operator in particular (answers wait in the campaign queue).
AHEAD = (RATIO, PREDICTIVE)

# System outcomes (what the call itself did) and the minutes before the next try by default.
NO_ANSWER, BUSY, UNREACHABLE, MACHINE, DROPPED = (
    "no-answer",
    "busy",
    "unreachable",
    "machine",
    "dropped",
)
HUNG_UP = "hung-up"  # answered, then gone before an operator took the call
UNKNOWN = "unknown"  # an engine lost sight of the call
CONNECTED = "connected"  # talked to an operator: the operator's outcome says the rest
SYSTEM_OUTCOMES = (NO_ANSWER, BUSY, UNREACHABLE, MACHINE, DROPPED, HUNG_UP, UNKNOWN)
DEFAULT_RETRY_MINUTES = {
    NO_ANSWER: 120,
    BUSY: 15,
    UNREACHABLE: 240,
    MACHINE: 240,
    HUNG_UP: 60,
    UNKNOWN: 120,
}

# What the operator records, per kind; each may need more fields (outcomes.py).
OUTCOMES = {
    REMINDER: ("promise", "paid", "disputes", "wrong-person", "refuses", "callback"),
    APPOINTMENT: ("appointment", "not-interested", "callback", "wrong-number"),
    PROMOTION: ("interested", "sale", "not-interested", "do-not-call", "callback"),
    VERIFICATION: ("verified", "refuses", "wrong-number", "callback"),
}
DO_NOT_CALL = "do-not-call"
# The dialer's wake-up topic (ivr.wake): contacts were added (a verification draw, a contest).
DIALER_WAKE = "campaigns"
CALLBACK = "callback"


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    type: str = "text"
    choices: tuple[str, ...] = ()
    required: bool = False


@dataclass(frozen=True)
class Salesperson:
    id: str
    name: str
    window: CallingWindow  # when an appointment may start
    slot: int = 60  # minutes


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    client_id: str
    client_name: str
    kind: str
    groups: tuple[str, ...]
    operators: tuple[str, ...]  # operator ids of the groups, in order, once each
    caller_id: str
    window: CallingWindow
    holidays: HolidayBook = field(compare=False)
    zone: str = "Europe/Rome"
    start: date | None = None
    end: date | None = None
    mode: str = PROGRESSIVE
    ratio: float = 1.5
    max_ratio: float = 3.0
    ring: int = 25
    preview_seconds: int = 0
    max_attempts: int = 5
    per_day: int = 2
    retry_minutes: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_RETRY_MINUTES))
    amd: bool = False
    own_customers: bool = False
    language: str = "it"
    script: str = ""
    form: tuple[FormField, ...] = ()
    recording: bool = False
    announcement: str = ""
    callback: str = ""
    salespeople: dict[str, Salesperson] = field(default_factory=dict)
    file: str = ""
    billing: Any = None  # ivr.billing.terms.Terms: how the client pays for results; None: not
    verifies: str = ""  # a verification campaign: the appointment campaign it verifies

    @property
    def queue(self) -> str:
        """The Asterisk queue whose members take this campaign's answered calls."""
        return f"cmp-{self.id}"

    @property
    def register_required(self) -> bool:
        """Promotion and appointments to people who are not the client's customers need their
        list checked against the opposition register; reminders to debtors never do."""
        return self.kind != REMINDER and not self.own_customers

    def runs_on(self, day: date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class Campaigns:
    """Every campaign file, loaded: by id, and by the caller ID each presents."""

    by_id: dict[str, Campaign] = field(default_factory=dict)
    digest: str = ""
    warnings: tuple[Problem, ...] = ()

    def by_caller_id(self, number: str) -> list[Campaign]:
        return [c for c in self.by_id.values() if c.caller_id == number]

    def get(self, campaign_id: str) -> Campaign | None:
        return self.by_id.get(campaign_id)
