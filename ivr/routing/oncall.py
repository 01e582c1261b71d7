"""Who of a client's people is on call: a weekly rotation (this week Mario, next week Luca)
with periods that take precedence (holidays, cover: Ferragosto to Giulia). The spec decoded
from the client's file, what it compiles to, and the pure answer for a moment: who, and
until when. Periods the client's admin adds in the area are passed in beside the file's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ivr.routing.patterns import LINE, NAME, TIME
from ivr.routing.source import Spec, Where, doc

DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
WEEK = timedelta(days=7)


@dataclass(frozen=True, kw_only=True)
class RotationSpec(Spec):
    start: str = field(
        metadata=doc("The day the first person's week starts (YYYY-MM-DD).", pattern=DAY)
    )
    change: str = field(
        default="08:00", metadata=doc("The local time the week changes hands.", pattern=TIME)
    )
    people: tuple[str, ...] = field(
        metadata=doc("The client's people, one week each, in turn.", pattern=NAME)
    )


@dataclass(frozen=True, kw_only=True)
class PeriodSpec(Spec):
    start: str = field(metadata=doc("First day (YYYY-MM-DD), from 00:00.", pattern=DAY))
    end: str = field(metadata=doc("Last day (YYYY-MM-DD), to 24:00.", pattern=DAY))
    person: str = field(metadata=doc("Who is on call over these days.", pattern=NAME))
    why: str = field(default="", metadata=doc("Holiday, cover...", pattern=LINE))


@dataclass(frozen=True, kw_only=True)
class OnCallSpec(Spec):
    """Who is on call: the rotation, and periods that take precedence over it (the later of
    two overlapping periods wins)."""

    rotation: RotationSpec | None = field(default=None, metadata=doc("Weekly rotation."))
    periods: tuple[PeriodSpec, ...] = field(
        default=(), metadata=doc("Date ranges: holidays, cover.")
    )


@dataclass(frozen=True)
class Period:
    start: datetime  # aware, in the client's zone
    end: datetime  # exclusive
    person: str
    why: str = ""


@dataclass(frozen=True)
class Rotation:
    start: datetime  # the first change, aware
    people: tuple[str, ...]


@dataclass(frozen=True)
class OnCall:
    zone: ZoneInfo
    rotation: Rotation | None = None
    periods: tuple[Period, ...] = ()


@dataclass(frozen=True)
class Duty:
    person: str
    until: datetime | None  # when someone else takes over (None: no end known)
    why: str = ""  # a period's reason, or "" for the rotation


def period_of(start: date, end: date, person: str, why: str, zone: ZoneInfo) -> Period:
    return Period(
        datetime.combine(start, time(0), zone),
        datetime.combine(end + timedelta(days=1), time(0), zone),
        person,
        why,
    )


def on_duty(on_call: OnCall, now: datetime, extra: Sequence[Period] = ()) -> Duty | None:
    """Who is on call at `now` and until when; the periods given (the area's) after the
    file's, so they win; None: nobody."""
    periods = [*on_call.periods, *extra]
    for period in reversed(periods):
        if period.start <= now < period.end:
            return Duty(period.person, _next_change(on_call, periods, now, period.end), period.why)
    rotation = on_call.rotation
    if rotation is None or not rotation.people or now < rotation.start:
        return None
    local = now.astimezone(on_call.zone)
    start = rotation.start.astimezone(on_call.zone)
    # Weeks counted on the wall clock, so a DST change does not move the change's hour.
    weeks = (local.replace(tzinfo=None) - start.replace(tzinfo=None)) // WEEK
    person = rotation.people[weeks % len(rotation.people)]
    change = (start.replace(tzinfo=None) + (weeks + 1) * WEEK).replace(tzinfo=on_call.zone)
    return Duty(person, _next_change(on_call, periods, now, change))


def _next_change(
    on_call: OnCall, periods: Sequence[Period], now: datetime, end: datetime
) -> datetime:
    """The end of this duty, or sooner the start of a period that takes over."""
    starts = [p.start for p in periods if now < p.start < end]
    return min([end, *starts])


def compile_on_call(
    spec: OnCallSpec, zone: ZoneInfo, people: Collection[str], error: Callable[[Where, str], None]
) -> OnCall:
    rotation = None
    if spec.rotation is not None:
        r = spec.rotation
        for i, person in enumerate(r.people):
            if person not in people:
                error(r.where(f"people[{i}]"), _unknown(person, people))
        try:
            first = datetime.combine(
                date.fromisoformat(r.start), time.fromisoformat(r.change), zone
            )
            rotation = Rotation(first, tuple(p for p in r.people if p in people))
        except ValueError as exc:
            error(r.where("start"), f"not a date and time: {exc}")
        if not r.people:
            error(r.where("people"), "a rotation names at least one person")
    periods = []
    for period in spec.periods:
        if period.person not in people:
            error(period.where("person"), _unknown(period.person, people))
            continue
        try:
            start, end = date.fromisoformat(period.start), date.fromisoformat(period.end)
        except ValueError as exc:
            error(period.where("start"), f"not a date: {exc}")
            continue
        if end < start:
            error(period.where("end"), "the last day is before the first")
            continue
        periods.append(period_of(start, end, period.person, period.why, zone))
    return OnCall(zone, rotation, tuple(periods))


def _unknown(person: str, people: Collection[str]) -> str:
    known = ", ".join(sorted(people)) or "none"
    return f"unknown person {person!r}; known: {known}"
