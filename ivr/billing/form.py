"""The verification call's form (pure): whether the visit happened, when, with whom the
operator spoke, how the visit went, notes. Checked before it is stored, like every outcome."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from ivr import bounds
from ivr.i18n import tr

VERIFIED = "verified"
VISIT_OUTCOMES = ("positive", "negative", "undecided")
SPOKE_MAX = 255
EARLIEST_DAYS = 120  # a visit reported more than this long before the call is a typo


class _Form(Protocol):
    outcome: str
    data: dict[str, Any]
    errors: dict[str, str]


def visit_outcome_labels(lang: str) -> dict[str, str]:
    return {
        "positive": tr(lang, "It went well (interested, or bought)"),
        "negative": tr(lang, "Not interested"),
        "undecided": tr(lang, "Still deciding"),
    }


def read_verification(raw: Mapping[str, str], now: datetime, zone: str, lang: str,
                      form: _Form) -> None:  # fmt: skip
    """The verification fields of an outcome form into form.data, or form.errors."""
    if form.outcome != VERIFIED:
        return
    errors = form.errors
    happened = raw.get("happened", "").strip()
    if happened not in ("yes", "no"):
        errors["happened"] = tr(lang, "Say whether the visit took place.")
    spoke = raw.get("spoke_with", "").strip()
    if not spoke:
        errors["spoke_with"] = tr(lang, "Say with whom you spoke.")
    elif len(spoke) > SPOKE_MAX:
        errors["spoke_with"] = tr(lang, "The name is too long.")
    form.data.update(happened=happened == "yes", spoke_with=spoke, visited_at=None,
                     visit_outcome=None)  # fmt: skip
    if happened != "yes":
        return
    text = raw.get("visited_at", "").strip()
    try:
        visited = bounds.moment(text)
        if visited.tzinfo is None:
            visited = visited.replace(tzinfo=ZoneInfo(zone))
        if not now - timedelta(days=EARLIEST_DAYS) <= visited <= now:
            errors["visited_at"] = tr(lang, "The visit is a day and time in the past.")
        form.data["visited_at"] = visited.isoformat()
    except ValueError:
        errors["visited_at"] = tr(lang, "When was the visit: a date and a time.")
    outcome = raw.get("visit_outcome", "").strip()
    if outcome not in VISIT_OUTCOMES:
        errors["visit_outcome"] = tr(lang, "Choose how the visit went.")
    form.data["visit_outcome"] = outcome or None
