"""Time arithmetic for the router: parsing times and days, weekly schedules, holidays, Easter.

A weekly schedule is precomputed into sorted minute-of-week ranges, so "is it open now" is
one bisect. Everything is in the client's wall-clock time: a DST change only changes which
wall-clock minute an instant falls on, never the schedule itself.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import TypeVar

MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_ALIASES = {
    "daily": tuple(range(7)),
    "weekdays": tuple(range(5)),
    "weekend": (5, 6),
}
_TIME = re.compile(r"^([0-9]{1,2}):([0-9]{2})$")
_MD = re.compile(r"^([0-9]{2})-([0-9]{2})$")
_YMD = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")


K = TypeVar("K")


class ClockError(ValueError):
    """A malformed time, range, day or date; the message says what is expected."""


def parse_time(text: str, allow_24: bool = True) -> int:
    """'08:30' -> minutes since midnight; '24:00' is the end of the day."""
    m = _TIME.match(text.strip())
    if not m:
        raise ClockError(f"malformed time {text!r}: expected HH:MM")
    hours, minutes = int(m.group(1)), int(m.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        raise ClockError(f"malformed time {text!r}: no such time of day")
    return hours * 60 + minutes


def parse_range(text: str) -> tuple[int, int]:
    """'08:00-12:30' -> (480, 750); an end at or before the start runs past midnight."""
    start, sep, end = text.partition("-")
    if not sep:
        raise ClockError(f"malformed time range {text!r}: expected HH:MM-HH:MM")
    first, last = parse_time(start, allow_24=False), parse_time(end)
    if first == last:
        raise ClockError(f"empty time range {text!r}")
    return first, last


def format_minutes(minutes: int) -> str:
    minutes %= MINUTES_PER_DAY if minutes != MINUTES_PER_DAY else MINUTES_PER_DAY + 1
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def format_range(first: int, last: int) -> str:
    return f"{format_minutes(first)}-{format_minutes(last)}"


def parse_days(text: str) -> tuple[int, ...]:
    """'mon-fri' / 'sat,sun' / 'daily' / 'fri-mon' -> weekday numbers (Monday is 0)."""
    days: list[int] = []
    for part in text.lower().replace(" ", "").split(","):
        if part in _DAY_ALIASES:
            days.extend(_DAY_ALIASES[part])
            continue
        first, sep, last = part.partition("-")
        if first not in DAY_NAMES or (sep and last not in DAY_NAMES):
            raise ClockError(
                f"malformed days {text!r}: expected mon..sun, a range like mon-fri, "
                "daily, weekdays or weekend, separated by commas"
            )
        a = DAY_NAMES.index(first)
        b = DAY_NAMES.index(last) if sep else a
        days.extend((a + i) % 7 for i in range((b - a) % 7 + 1))
    return tuple(sorted(set(days)))


def days_mask(days: tuple[int, ...]) -> int:
    mask = 0
    for day in days:
        mask |= 1 << day
    return mask


@dataclass(frozen=True)
class Shift:
    """A piece of the week, in minutes of the week; `day` is the weekday the shift began."""

    start: int
    end: int
    day: int
    label: str


class Schedule:
    """Weekly opening hours as sorted, non-overlapping minute-of-week pieces."""

    __slots__ = ("shifts", "_starts")

    def __init__(self, shifts: list[Shift]) -> None:
        self.shifts = tuple(sorted(shifts, key=lambda s: s.start))
        self._starts = [s.start for s in self.shifts]

    @classmethod
    def from_ranges(cls, per_day: dict[int, list[tuple[int, int]]]) -> Schedule:
        """Day -> ranges in minutes of that day; a range past midnight spills into the next."""
        pieces: list[Shift] = []
        for day, ranges in per_day.items():
            for first, last in ranges:
                label = format_range(first, last)
                start = day * MINUTES_PER_DAY + first
                length = (last - first) % MINUTES_PER_DAY or MINUTES_PER_DAY
                end = start + length
                if end <= MINUTES_PER_WEEK:
                    pieces.append(Shift(start, end, day, label))
                else:  # Sunday night into Monday morning wraps to the start of the week
                    pieces.append(Shift(start, MINUTES_PER_WEEK, day, label))
                    pieces.append(Shift(0, end - MINUTES_PER_WEEK, day, label))
        return cls(_merge(pieces))

    def find(self, minute_of_week: int) -> Shift | None:
        i = bisect_right(self._starts, minute_of_week) - 1
        if i >= 0:
            shift = self.shifts[i]
            if minute_of_week < shift.end:
                return shift
        return None

    @property
    def never_open(self) -> bool:
        return not self.shifts


def _merge(pieces: list[Shift]) -> list[Shift]:
    """Overlapping shifts would make find() miss; keep the earliest start and join labels."""
    out: list[Shift] = []
    for piece in sorted(pieces, key=lambda s: (s.start, -s.end)):
        if out and piece.start < out[-1].end:
            last = out[-1]
            if piece.end > last.end:
                label = last.label if piece.label == last.label else f"{last.label}, {piece.label}"
                out[-1] = Shift(last.start, piece.end, last.day, label)
            continue
        out.append(piece)
    return out


# day -1: the one always-open shift belongs to every day (see evaluate._opening)
ALWAYS = Schedule([Shift(0, MINUTES_PER_WEEK, -1, "open 24 hours")])


@cache
def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian computus, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's own name
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


@dataclass(frozen=True)
class Holiday:
    """A closed or partly open day. until/hours are minutes of the day; both None: closed."""

    name: str
    until: int | None = None
    hours: tuple[tuple[int, int], ...] | None = None

    @property
    def full(self) -> bool:
        return self.until is None and self.hours is None

    def stricter(self, other: Holiday) -> Holiday:
        """Of two entries on the same day, the one that keeps the office closed longer."""
        if self.full or other.full:
            return self if self.full else other
        if self.hours is not None or other.hours is not None:
            return self if self.hours is not None else other
        assert self.until is not None and other.until is not None
        return self if self.until <= other.until else other


class HolidayBook:
    """Every holiday rule of one client, answering "what is this date?" in O(1)."""

    __slots__ = ("yearly", "once", "easter")

    def __init__(self) -> None:
        self.yearly: dict[tuple[int, int], Holiday] = {}
        self.once: dict[date, Holiday] = {}
        self.easter: dict[int, Holiday] = {}  # days after Easter Sunday -> holiday

    def add_yearly(self, month: int, day: int, holiday: Holiday) -> None:
        _put(self.yearly, (month, day), holiday)

    def add_once(self, first: date, last: date, holiday: Holiday) -> None:
        day = first
        while day <= last:
            _put(self.once, day, holiday)
            day += timedelta(days=1)

    def add_easter(self, offset: int, holiday: Holiday) -> None:
        _put(self.easter, offset, holiday)

    def merged(self, other: HolidayBook) -> HolidayBook:
        book = HolidayBook()
        for source in (self, other):
            for k, h in source.yearly.items():
                _put(book.yearly, k, h)
            for d, h in source.once.items():
                _put(book.once, d, h)
            for o, h in source.easter.items():
                _put(book.easter, o, h)
        return book

    def __bool__(self) -> bool:
        return bool(self.yearly or self.once or self.easter)

    def get(self, day: date) -> Holiday | None:
        found = self.once.get(day)
        other = self.yearly.get((day.month, day.day))
        if other is not None:
            found = other if found is None else found.stricter(other)
        if self.easter:
            other = self.easter.get((day - easter_sunday(day.year)).days)
            if other is not None:
                found = other if found is None else found.stricter(other)
        return found


def _put(table: dict[K, Holiday], key: K, holiday: Holiday) -> None:
    old = table.get(key)
    table[key] = holiday if old is None else old.stricter(holiday)


def parse_date(text: str) -> tuple[int | None, int, int]:
    """'12-24' -> (None, 12, 24) every year; '2025-08-14' -> (2025, 8, 14) once."""
    m = _MD.match(text)
    if m:
        month, day = int(m.group(1)), int(m.group(2))
        try:
            date(2000, month, day)  # a leap year, so 02-29 is allowed
        except ValueError:
            raise ClockError(f"malformed date {text!r}: no such day") from None
        return None, month, day
    m = _YMD.match(text)
    if m:
        year, month, day = (int(g) for g in m.groups())
        try:
            date(year, month, day)
        except ValueError:
            raise ClockError(f"malformed date {text!r}: no such day") from None
        return year, month, day
    raise ClockError(f"malformed date {text!r}: expected MM-DD or YYYY-MM-DD")
