"""What a web form or address may give as a number or a date: an id is digits that fit the
database's integer (SQLite and PostgreSQL bigint: below 2**63), a date lies between 2000 and
2199. Anything else is "not found" or "not valid" for the page, never an overflow deep in a
query (a 500)."""

from __future__ import annotations

import re
from datetime import date, datetime

MAX_ID = 2**63 - 1
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2199, 12, 31)
_DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII digits only (int() takes "1_0" and "١")


def row_id(text: object) -> int | None:
    """A database id from text, or None."""
    if not isinstance(text, str) or not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


def day(text: object) -> date | None:
    """A calendar day (YYYY-MM-DD) within the bounds, or None."""
    if not isinstance(text, str):
        return None
    try:
        found = date.fromisoformat(text.strip())
    except ValueError:
        return None
    return found if FIRST_DAY <= found <= LAST_DAY else None


def moment(text: str) -> datetime:
    """An ISO date and time within the bounds; ValueError otherwise."""
    found = datetime.fromisoformat(text.strip())
    if not FIRST_DAY <= found.date() <= LAST_DAY:
        raise ValueError(f"{text!r} is not between {FIRST_DAY} and {LAST_DAY}")
    return found


def year_ok(year: int) -> bool:
    return FIRST_DAY.year <= year <= LAST_DAY.year
