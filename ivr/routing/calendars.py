"""The calendars, holidays, schedules and time zones of the rules: the part of the
Compiler (ivr/routing/load.py) that turns days and hours into Schedules and HolidayBooks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ivr.routing import spec as s
from ivr.routing.clock import (
    ALWAYS,
    ClockError,
    Holiday,
    HolidayBook,
    Schedule,
    parse_date,
    parse_days,
    parse_range,
    parse_time,
)
from ivr.routing.compiling import unknown
from ivr.routing.source import Where


class CalendarParts:
    """Part of Compiler: its fields are declared (and made) there."""

    calendars: dict[str, HolidayBook]
    _schedules: dict[object, Schedule]
    _books: dict[tuple[str, ...], HolidayBook]
    _zones: dict[str, ZoneInfo]

    def error(self, where: Where, message: str) -> None:
        raise NotImplementedError

    def warn(self, where: Where, message: str) -> None:
        raise NotImplementedError

    def _calendar(
        self, name: str, specs: dict[str, s.CalendarSpec], seen: tuple[str, ...]
    ) -> HolidayBook:
        if name in self.calendars:
            return self.calendars[name]
        spec = specs[name]
        book = HolidayBook()
        for holiday in spec.holidays:
            self._holiday(holiday, book)
        for i, other in enumerate(spec.include):
            where = spec.where(f"include[{i}]")
            if other not in specs:
                self.error(where, unknown("calendar", other, specs))
            elif other in seen or other == name:
                self.error(where, f"calendar {name!r} includes itself through {other!r}")
            else:
                book = book.merged(self._calendar(other, specs, (*seen, name)))
        self.calendars[name] = book
        return book

    def _holiday(self, spec: s.HolidaySpec, book: HolidayBook) -> None:
        until = hours = None
        try:
            if spec.until is not None and spec.hours is not None:
                raise ClockError("a partial day has either until or hours, not both")
            if spec.until is not None:
                until = parse_time(spec.until)
            if spec.hours is not None:
                hours = tuple(self._day_ranges(spec.hours))
        except ClockError as exc:
            self.error(spec.where("until" if spec.until is not None else "hours"), str(exc))
            return
        holiday = Holiday(spec.name, until, hours)
        if (spec.date is None) == (spec.easter is None):
            self.error(spec.at, f"holiday {spec.name!r}: give either date or easter")
            return
        if spec.easter is not None:
            if spec.through is not None:
                self.error(spec.where("through"), "through goes with date, not easter")
            book.add_easter(spec.easter, holiday)
            return
        assert spec.date is not None
        try:
            year, month, day = parse_date(spec.date)
        except ClockError as exc:
            self.error(spec.where("date"), str(exc))
            return
        try:
            last = parse_date(spec.through) if spec.through is not None else (year, month, day)
        except ClockError as exc:
            self.error(spec.where("through"), str(exc))
            return
        if (year is None) != (last[0] is None):
            self.error(spec.where("through"), "date and through must be of the same form")
            return
        if year is None:  # every year; a range may run over New Year
            cursor, end = date(2000, month, day), date(2000, last[1], last[2])
            if end < cursor:
                end = end.replace(year=2001)
            while cursor <= end:
                book.add_yearly(cursor.month, cursor.day, holiday)
                cursor += timedelta(days=1)
            return
        assert last[0] is not None
        first_day, last_day = date(year, month, day), date(last[0], last[1], last[2])
        if last_day < first_day:
            self.error(spec.where("through"), "through is before date")
            return
        if (last_day - first_day).days > 366:
            self.error(spec.where("through"), "a closure longer than a year")
            return
        book.add_once(first_day, last_day, holiday)

    def _day_ranges(self, texts: Iterable[str]) -> list[tuple[int, int]]:
        out = []
        for text in texts:
            first, last = parse_range(text)
            if last <= first:
                raise ClockError(f"time range {text!r} must end the same day here")
            out.append((first, last))
        return out

    def _zone(self, spec: s.ClientSpec) -> ZoneInfo | None:
        name = spec.timezone
        if name not in self._zones:
            try:
                self._zones[name] = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                self.error(spec.where("timezone"), f"unknown time zone {name!r}")
                return None
        return self._zones[name]

    def _schedule(self, spec: s.ClientSpec) -> Schedule:
        if spec.hours is None:
            return ALWAYS
        key = tuple(spec.hours.items())
        cached = self._schedules.get(key)
        if cached is not None:
            return cached
        per_day: dict[int, list[tuple[int, int]]] = {d: [] for d in range(7)}
        for days_text, ranges in spec.hours.items():
            try:
                days = parse_days(days_text)
            except ClockError as exc:
                self.error(spec.where(f"hours{{{days_text}}}"), str(exc))
                continue
            for i, text in enumerate(ranges):
                try:
                    pair = parse_range(text)
                except ClockError as exc:
                    self.error(spec.where(f"hours[{days_text}][{i}]"), str(exc))
                    continue
                for day in days:
                    per_day[day].append(pair)
        schedule = Schedule.from_ranges(per_day)
        if schedule.never_open:
            self.warn(spec.where("hours"), "these hours never open: every call is closed")
        self._schedules[key] = schedule
        return schedule

    def _book(self, spec: s.ClientSpec) -> HolidayBook:
        names = []
        for i, name in enumerate(spec.calendars):
            if name not in self.calendars:
                self.error(spec.where(f"calendars[{i}]"), unknown("calendar", name, self.calendars))
            else:
                names.append(name)
        key = tuple(names)
        book = self._books.get(key)
        if book is None:
            book = HolidayBook()
            for name in names:
                book = book.merged(self.calendars[name])
            self._books[key] = book
        if spec.closures:
            own = HolidayBook()
            for closure in spec.closures:
                self._holiday(closure, own)
            book = book.merged(own)
        return book
