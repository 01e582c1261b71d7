"""The escalation ladder as a pure state machine: given the plan, the attempts made so far and
the clock, what happens next. No I/O: the scheduler stores and places, this decides.

A ladder is a sequence of slots (round, contact, try) in that order. The next slot to call
is the first one after the latest slot that has an attempt; slots before it that have none
were skipped (their contact was off call). One call at a time: while an attempt has no
outcome, the ladder waits. The first acknowledgement ends it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ivr.routing.model import Ladder, Window

# What happened to one call to a contact.
NO_ANSWER = "no-answer"
BUSY = "busy"
FAILED = "failed"  # the call could not be placed (trunk down, congestion, bad number)
ANSWERED = "answered"  # answered without acknowledgement: no key, a hang-up, a voicemail
ACKNOWLEDGED = "acknowledged"
UNKNOWN = "unknown"  # the engine lost sight of the call (it restarted meanwhile)
# Not dialled: the dial policy refuses the contact's number (an attempt), or a rate limit or
# a withheld caller kept the ladder from starting (a run).
REFUSED = "refused"
OUTCOMES = (NO_ANSWER, BUSY, FAILED, ANSWERED, ACKNOWLEDGED, UNKNOWN, REFUSED)

# What a ladder ended with.
RUNNING = "running"
EXHAUSTED = "exhausted"  # every round done, nobody acknowledged
STOPPED = "stopped"  # could not run: its ladder is not in the rules


@dataclass(frozen=True)
class PlanContact:
    name: str
    number: str
    ring: int  # seconds a call rings before it counts as not answered
    email: str | None = None
    days: int = 0x7F  # weekday bitmask, Monday is bit 0
    ranges: tuple[tuple[int, int], ...] = ()  # minutes of the day; empty: all day

    def on_call(self, local: datetime) -> bool:
        return Window(self.days, self.ranges).contains(
            local.weekday(), local.hour * 60 + local.minute
        )


@dataclass(frozen=True)
class Plan:
    """A ladder frozen when the escalation starts: a rules reload does not change it."""

    contacts: tuple[PlanContact, ...]
    rounds: int = 1
    attempts: int = 1
    pause: int = 60
    timezone: str = "UTC"

    @classmethod
    def of(cls, ladder: Ladder, timezone: str = "UTC") -> Plan:
        contacts = tuple(
            PlanContact(
                c.name,
                c.number,
                c.wait,
                c.email,
                c.on_call.days if c.on_call else 0x7F,
                c.on_call.ranges if c.on_call else (),
            )
            for c in ladder.contacts
        )
        return cls(contacts, ladder.repeat, ladder.attempts, ladder.pause, timezone)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        contacts = tuple(
            PlanContact(**{**c, "ranges": tuple(tuple(r) for r in c["ranges"])})
            for c in data["contacts"]
        )
        return cls(
            contacts, data["rounds"], data["attempts"], data["pause"], data.get("timezone", "UTC")
        )

    def slots(self) -> Iterator[Slot]:
        for round_ in range(self.rounds):
            for contact in range(len(self.contacts)):
                for try_ in range(self.attempts):
                    yield Slot(round_, contact, try_)


@dataclass(frozen=True, order=True)
class Slot:
    round: int
    contact: int
    try_: int


@dataclass(frozen=True)
class Attempt:
    """A call already placed (or being placed): its row in the database."""

    slot: Slot
    placed_at: datetime
    ended_at: datetime | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class Place:
    slot: Slot
    contact: PlanContact


@dataclass(frozen=True)
class Wait:
    until: datetime | None  # None: a call is in progress, its outcome decides


@dataclass(frozen=True)
class Finished:
    result: str  # ACKNOWLEDGED or EXHAUSTED


Step = Place | Wait | Finished


def next_step(plan: Plan, started_at: datetime, attempts: Sequence[Attempt], now: datetime) -> Step:
    """What the ladder does at `now`."""
    if any(a.outcome == ACKNOWLEDGED for a in attempts):
        return Finished(ACKNOWLEDGED)
    if any(a.outcome is None for a in attempts):
        return Wait(None)
    last = max(attempts, key=lambda a: a.slot, default=None)
    local = now.astimezone(ZoneInfo(plan.timezone))
    for slot in plan.slots():
        if last is not None and slot <= last.slot:
            continue
        if last is None:
            due = started_at
        else:
            ended = last.ended_at or last.placed_at
            due = ended + timedelta(seconds=plan.pause if slot.round > last.slot.round else 0)
        if due > now:
            return Wait(due)
        contact = plan.contacts[slot.contact]
        if contact.on_call(local):
            return Place(slot, contact)
    return Finished(EXHAUSTED)
