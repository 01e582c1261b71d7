"""The legal floor of outbound calls in Italy: constants, each with its source beside it.

Pure. A campaign file or a setting may narrow what is written here, never widen it: the
loader refuses a wider file (FILE:LINE:COL) and a wider setting (the engine does not start),
and `refuse()` is asked again at the moment every call is placed, whatever placed it.

The reading of these rules is the engineering team's and is to be confirmed by counsel
(docs/outbound-rules.md says the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ivr.routing.clock import Holiday, HolidayBook, easter_sunday

Ranges = tuple[tuple[int, int], ...]

# -- calling hours ---------------------------------------------------------------------------
# Promotion (telemarketing) and appointment-setting calls to consumers: weekdays 09:00-20:00,
# Saturdays 10:00-19:00, never on Sundays or national holidays, in the contact's own time
# zone. Source: the Codice di condotta per le attività di telemarketing e teleselling
# approved by the Garante per la protezione dei dati personali (2023), as the center reads its
# time slots. Minutes of the day; the end is excluded.
PROMOTION_WEEKDAYS: Ranges = ((9 * 60, 20 * 60),)
PROMOTION_SATURDAY: Ranges = ((10 * 60, 19 * 60),)
# Reminders of a payment due (to the debtor, who is the client's customer): no statute fixes
# the hours; the Garante's general measure on debt collection (30 November 2005) forbids
# calls that harass. The center's floor: weekdays 09:00-20:00, Saturdays 09:00-13:00, never
# on Sundays or national holidays.
REMINDER_WEEKDAYS: Ranges = ((9 * 60, 20 * 60),)
REMINDER_SATURDAY: Ranges = ((9 * 60, 13 * 60),)
SUNDAY: Ranges = ()  # no kind of campaign call is ever placed on a Sunday

# -- national holidays -----------------------------------------------------------------------
# Legge 27 maggio 1949 n. 260 as amended (L. 5 marzo 1977 n. 54, D.P.R. 28 dicembre 1985
# n. 792 restoring Epiphany, L. 20 novembre 2000 n. 336 restoring 2 June).
NATIONAL_HOLIDAYS: tuple[tuple[int, int, str], ...] = (
    (1, 1, "Capodanno"),
    (1, 6, "Epifania"),
    (4, 25, "Festa della Liberazione"),
    (5, 1, "Festa del Lavoro"),
    (6, 2, "Festa della Repubblica"),
    (8, 15, "Assunzione (Ferragosto)"),
    (11, 1, "Ognissanti"),
    (12, 8, "Immacolata Concezione"),
    (12, 25, "Natale"),
    (12, 26, "Santo Stefano"),
)
# San Francesco d'Assisi, national holiday again from 2026 (the law of October 2025 that
# restored it); counted from that year.
SAINT_FRANCIS = (10, 4, "San Francesco d'Assisi")
SAINT_FRANCIS_FROM = 2026
# Easter Monday (Lunedì dell'Angelo), L. 260/1949 art. 2: the day after Easter Sunday.
EASTER_MONDAY = "Lunedì dell'Angelo (Pasquetta)"

# -- silent calls ----------------------------------------------------------------------------
# Garante per la protezione dei dati personali, provvedimento 20 febbraio 2014 "Misure in
# materia di chiamate mute" (silent calls): an answered call not put to an operator within
# 3 seconds is abandoned; abandoned calls at most 3 % of the answered calls per campaign per
# day; a number whose call was abandoned is not called again for 5 days, and then only with
# an operator already free for it; comfort noise while the contact waits.
ABANDON_SECONDS = 3
ABANDON_CAP = 0.03
ABANDON_REST_DAYS = 5
# The drop message starts within the 3 s, machine detection included: the engine's own
# budget of silence from the answer, leaving 0.2 s for the message to start.
ANSWER_BUDGET_MS = 2800

# -- the opposition register -----------------------------------------------------------------
# D.P.R. 7 settembre 2010 n. 178 art. 7 (as amended by D.P.R. 26/2022): a list consulted
# against the Registro pubblico delle opposizioni is valid for 15 days.
REGISTER_MAX_DAYS = 15
# A client's own customers may be called without the register check while they are customers
# and for a time after (the center's reading, default of the setting own_customers_days):
# the setting may only shorten it.
OWN_CUSTOMERS_MAX_DAYS = 30

# Reasons a dial is refused by the floor (stored in campaign_refusals.reason).
SUNDAY_REASON = "floor-sunday"
HOLIDAY_REASON = "floor-holiday"
HOURS_REASON = "floor-hours"
RING_REASON = "floor-ring"  # too close to the window's end to ring out inside it


@dataclass(frozen=True)
class Floor:
    """The hours a kind of call may be placed: Monday..Sunday minute ranges."""

    kind: str
    days: tuple[Ranges, ...]

    def ranges_on(self, day: date) -> Ranges:
        if national_holiday(day) is not None:
            return ()
        return self.days[day.weekday()]


def _week(weekdays: Ranges, saturday: Ranges) -> tuple[Ranges, ...]:
    return (weekdays,) * 5 + (saturday, SUNDAY)


PROMOTION_FLOOR = Floor("promotion", _week(PROMOTION_WEEKDAYS, PROMOTION_SATURDAY))
REMINDER_FLOOR = Floor("reminder", _week(REMINDER_WEEKDAYS, REMINDER_SATURDAY))
FLOORS = {
    "promotion": PROMOTION_FLOOR,
    "appointment": PROMOTION_FLOOR,
    # a call to a visited business about its appointment: the appointment's own floor
    "verification": PROMOTION_FLOOR,
    "reminder": REMINDER_FLOOR,
}


def floor_of(kind: str) -> Floor:
    """The floor of a kind; an unknown kind gets the strictest (promotion's)."""
    return FLOORS.get(kind, PROMOTION_FLOOR)


def national_holiday(day: date) -> str | None:
    """The national holiday's name on this day, or None."""
    for month, mday, name in NATIONAL_HOLIDAYS:
        if (day.month, day.day) == (month, mday):
            return name
    if day.year >= SAINT_FRANCIS_FROM and (day.month, day.day) == SAINT_FRANCIS[:2]:
        return SAINT_FRANCIS[2]
    if day == easter_sunday(day.year) + timedelta(days=1):
        return EASTER_MONDAY
    return None


def national_book(first_year: int = 2000, last_year: int = 2100) -> HolidayBook:
    """The national holidays as a routing HolidayBook (merged into every campaign's, so that
    its window and `next_open` skip them whatever the client's calendars say)."""
    book = HolidayBook()
    for month, mday, name in NATIONAL_HOLIDAYS:
        book.add_yearly(month, mday, Holiday(name))
    book.add_easter(1, Holiday(EASTER_MONDAY))
    month, mday, name = SAINT_FRANCIS
    for year in range(max(first_year, SAINT_FRANCIS_FROM), last_year + 1):
        day = date(year, month, mday)
        book.add_once(day, day, Holiday(name))
    return book


@dataclass(frozen=True)
class FloorRefusal:
    reason: str
    detail: str


def refuse(kind: str, at: datetime, zone: str, ring_seconds: int = 0) -> FloorRefusal | None:
    """Why the floor forbids starting a call of this kind at `at` to a contact in `zone`
    (None: it allows it). The call must be able to ring `ring_seconds` inside the window."""
    local = at.astimezone(ZoneInfo(zone))
    day = local.date()
    holiday = national_holiday(day)
    if holiday is not None:
        return FloorRefusal(HOLIDAY_REASON, f"{day.isoformat()} is a national holiday ({holiday})")
    ranges = floor_of(kind).ranges_on(day)
    if not ranges:
        return FloorRefusal(SUNDAY_REASON, f"no {kind} call on a Sunday ({day.isoformat()})")
    second = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    for a, b in ranges:
        if a * 60 <= second < b * 60:
            if second + ring_seconds > b * 60:
                return FloorRefusal(
                    RING_REASON,
                    f"{local:%H:%M:%S} ({zone}): a call ringing {ring_seconds} s would end"
                    f" after {_hhmm(b)}, when the {kind} hours close",
                )
            return None
    hours = ", ".join(f"{_hhmm(a)}-{_hhmm(b)}" for a, b in ranges)
    return FloorRefusal(
        HOURS_REASON, f"{local:%a %H:%M} ({zone}) is outside the {kind} hours {hours}"
    )


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def wider(kind: str, weekday: int, ranges: Ranges) -> str | None:
    """Why these ranges on this weekday (0 Monday) go beyond the floor, or None."""
    allowed = floor_of(kind).days[weekday]
    names = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    for a, b in ranges:
        if not any(lo <= a and b <= hi for lo, hi in allowed):
            if not allowed:
                return f"{names[weekday]}: no {kind} call is allowed on a {names[weekday]}"
            limit = ", ".join(f"{_hhmm(lo)}-{_hhmm(hi)}" for lo, hi in allowed)
            return (
                f"{names[weekday]} {_hhmm(a)}-{_hhmm(b)} is wider than the law allows for"
                f" {kind} calls ({limit})"
            )
    return None


def wider_eve(kind: str, ranges: Ranges) -> str | None:
    """An eve's ranges must fit every weekday it may fall on (Monday to Saturday)."""
    for weekday in range(6):
        why = wider(kind, weekday, ranges)
        if why is not None:
            return f"eve: {why}"
    return None


# -- what counts as an abandoned (silent) call -------------------------------------------------
# The one definition the pacing's day figures, the 3 % cap and the rest by number all read.


def _machine(amd: str | None) -> bool:
    return (amd or "").upper().startswith("MACHINE")


def abandoned(
    answered: datetime | None,
    amd: str | None,
    connected: datetime | None,
    dropped: datetime | None,
    ended: datetime | None,
) -> bool:
    """An answered call not put to an operator within 3 s, as the authority counts it:
    dropped by the dialer, or the contact hung up in the silence, or put through late; and
    every call machine detection hung up on (a false "machine" is a person left in silence,
    and the engine cannot tell which were false: all are counted)."""
    if answered is None:
        return False
    if _machine(amd):
        return True
    if dropped is not None:
        return True
    if connected is not None:
        return (connected - answered).total_seconds() > ABANDON_SECONDS
    return ended is not None


def rests(
    answered: datetime | None,
    amd: str | None,
    connected: datetime | None,
    dropped: datetime | None,
    ended: datetime | None,
) -> bool:
    """An abandoned call to a person: the number rests ABANDON_REST_DAYS (a call hung up on
    by machine detection counts towards the cap but does not rest the number: the center's
    reading, to be confirmed by counsel)."""
    return not _machine(amd) and abandoned(answered, amd, connected, dropped, ended)
