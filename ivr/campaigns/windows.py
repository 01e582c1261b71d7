"""Calling windows: when a contact may be called, in the contact's own time zone.

Pure. A window gives minute ranges per weekday, and optionally other ranges for a day before
a holiday (the "eve"). A full holiday of the calendar is never a calling day; a partial one
(closed from 13:00, or its own hours) narrows the day to what both allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ivr.routing.clock import DAY_NAMES, ClockError, HolidayBook, parse_days, parse_range

Ranges = tuple[tuple[int, int], ...]
SEARCH_DAYS = 400  # a window that opens less often than this never opens


@dataclass(frozen=True)
class CallingWindow:
    days: tuple[Ranges, ...]  # Monday .. Sunday: minute ranges, end > start
    eve: Ranges | None = None  # on a day before a full holiday; None: the weekday's ranges

    def ranges_on(self, day: date, book: HolidayBook) -> Ranges:
        holiday = book.get(day)
        if holiday is not None and holiday.full:
            return ()
        ranges = self.days[day.weekday()]
        after = book.get(day + timedelta(days=1))
        if self.eve is not None and after is not None and after.full and ranges:
            ranges = self.eve
        if holiday is not None:  # a partial day: only what the holiday leaves open
            allowed: Ranges = (
                ((0, holiday.until),) if holiday.until is not None else holiday.hours or ()
            )
            ranges = _intersect(ranges, allowed)
        return ranges

    def is_open(self, at: datetime, zone: str, book: HolidayBook) -> bool:
        local = at.astimezone(ZoneInfo(zone))
        minute = local.hour * 60 + local.minute
        return any(a <= minute < b for a, b in self.ranges_on(local.date(), book))

    def next_open(self, at: datetime, zone: str, book: HolidayBook) -> datetime | None:
        """The first instant at or after `at` inside the window; None if it never opens."""
        tz = ZoneInfo(zone)
        local = at.astimezone(tz)
        minute = local.hour * 60 + local.minute
        day = local.date()
        for offset in range(SEARCH_DAYS):
            current = day + timedelta(days=offset)
            for a, b in self.ranges_on(current, book):
                if offset == 0 and minute >= b:
                    continue
                if offset == 0 and minute >= a:
                    return at
                return _local(current, a, tz)
        return None

    def closes_at(self, at: datetime, zone: str, book: HolidayBook) -> datetime | None:
        """When the range `at` is in ends; None when the window is closed at `at`."""
        tz = ZoneInfo(zone)
        local = at.astimezone(tz)
        minute = local.hour * 60 + local.minute
        for a, b in self.ranges_on(local.date(), book):
            if a <= minute < b:
                return _local(local.date(), b, tz)
        return None


def _local(day: date, minute: int, tz: ZoneInfo) -> datetime:
    if minute >= 1440:
        return datetime.combine(day + timedelta(days=1), time(0), tz)
    return datetime.combine(day, time(minute // 60, minute % 60), tz)


def _intersect(left: Ranges, right: Ranges) -> Ranges:
    out = []
    for a, b in left:
        for c, d in right:
            lo, hi = max(a, c), min(b, d)
            if lo < hi:
                out.append((lo, hi))
    return tuple(sorted(out))


def parse_ranges(texts: tuple[str, ...] | list[str]) -> Ranges:
    """HH:MM-HH:MM texts as minute ranges within one day (a window never spans midnight)."""
    out = []
    for text in texts:
        first, last = parse_range(text.strip())
        if last <= first:
            raise ClockError(f"time range {text!r} must end the same day")
        out.append((first, last))
    return tuple(sorted(out))


def split(text: str) -> tuple[str, ...]:
    """A setting's ranges: "09:00-13:00,14:00-20:00"; empty: none."""
    return tuple(part for part in (p.strip() for p in text.split(",")) if part)


def window_of(hours: dict[str, tuple[str, ...]]) -> CallingWindow:
    """{"mon-fri": ("09:00-20:00",), "sat": (...), "eve": (...)} -> a window; ClockError."""
    days: list[list[tuple[int, int]]] = [[] for _ in DAY_NAMES]
    eve: Ranges | None = None
    for key, texts in hours.items():
        ranges = parse_ranges(texts)
        if key.strip().lower() == "eve":
            eve = ranges
            continue
        for day in parse_days(key):
            days[day].extend(ranges)
    return CallingWindow(tuple(tuple(sorted(d)) for d in days), eve)


def default_window(
    kind: str, weekdays: str, saturday: str, eve: str, reminder_weekdays: str, reminder_sat: str
) -> CallingWindow:
    """The center's defaults (settings): never on Sunday or a holiday."""
    if kind == "reminder":
        return window_of({"mon-fri": split(reminder_weekdays), "sat": split(reminder_sat)})
    return window_of({"mon-fri": split(weekdays), "sat": split(saturday), "eve": split(eve)})
