"""The outcome form of an outbound call, per kind: what an operator may record, checked
before it is stored (pure). Appointment slots come from the salespeople's calendars.

Text is kept as typed and escaped where it is shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ivr.campaigns.extensions import registered
from ivr.campaigns.importer import parse_day, parse_money
from ivr.campaigns.model import (
    APPOINTMENT,
    CALLBACK,
    OUTCOMES,
    Campaign,
    Salesperson,
)
from ivr.i18n import tr

NOTES_MAX = 2000
CALLBACK_MAX_DAYS = 90
PROMISE_MAX_DAYS = 366
SLOT_DAYS = 14  # how far ahead free appointment slots are offered


@dataclass
class OutcomeForm:
    attempt_id: int = 0
    outcome: str = ""
    promise_amount: Decimal | None = None
    promise_date: date | None = None
    callback_at: datetime | None = None
    salesperson: str | None = None
    starts_at: datetime | None = None
    address: str = ""
    notes: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)  # as typed, to show the form again
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def slot_key(salesperson: str, starts_at: datetime, zone: str) -> str:
    return f"{salesperson}|{starts_at.astimezone(ZoneInfo(zone)).strftime('%Y-%m-%dT%H:%M')}"


def free_slots(
    person: Salesperson,
    campaign: Campaign,
    now: datetime,
    booked: Iterable[datetime],
    days: int = SLOT_DAYS,
    limit: int = 12,
) -> list[datetime]:
    """The next free starts in the salesperson's calendar (never on a holiday)."""
    zone = ZoneInfo(campaign.zone)
    taken = {b.astimezone(zone).replace(tzinfo=None) for b in booked}
    out: list[datetime] = []
    first = now.astimezone(zone).date()
    for offset in range(days):
        day = first + timedelta(days=offset)
        for a, b in person.window.ranges_on(day, campaign.holidays):
            start = a
            while start + person.slot <= b:
                at = datetime.combine(day, time(start // 60, start % 60))
                aware = at.replace(tzinfo=zone)
                if aware > now + timedelta(hours=1) and at not in taken:
                    out.append(aware)
                    if len(out) >= limit:
                        return out
                start += person.slot
    return out


def is_slot(person: Salesperson, campaign: Campaign, at: datetime) -> bool:
    local = at.astimezone(ZoneInfo(campaign.zone))
    minute = local.hour * 60 + local.minute
    for a, b in person.window.ranges_on(local.date(), campaign.holidays):
        if a <= minute and minute + person.slot <= b and (minute - a) % person.slot == 0:
            return True
    return False


def _local_datetime(text: str, zone: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not a date and time: {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return value


def read_outcome(
    campaign: Campaign, data: Mapping[str, str], now: datetime, lang: str = "it"
) -> OutcomeForm:
    raw = {k: str(v) for k, v in data.items() if k != "csrf"}
    form = OutcomeForm(raw=raw)
    errors = form.errors
    try:
        form.attempt_id = int(raw.get("attempt", ""))
    except ValueError:
        errors["attempt"] = tr(
            lang, "This form is not about a call: wait for a call, then save it."
        )
    form.outcome = raw.get("outcome", "").strip()
    if form.outcome not in OUTCOMES[campaign.kind]:
        errors["outcome"] = tr(lang, "Choose the outcome of the call.")
    form.notes = raw.get("notes", "").strip()
    if len(form.notes) > NOTES_MAX:
        errors["notes"] = tr(
            lang,
            "Notes are too long: %(n)s characters, at most %(max)s.",
            n=len(form.notes),
            max=NOTES_MAX,
        )
    zone = campaign.zone
    today = now.astimezone(ZoneInfo(zone)).date()
    if form.outcome == "promise":
        try:
            form.promise_amount = parse_money(raw.get("promise_amount", ""))
            if form.promise_amount <= 0:
                errors["promise_amount"] = tr(lang, "The amount promised is more than 0.")
        except ValueError:
            errors["promise_amount"] = tr(
                lang, "Amount promised: an amount in euro, such as 120,50."
            )
        try:
            form.promise_date = parse_day(raw.get("promise_date", ""))
            if not today <= form.promise_date <= today + timedelta(days=PROMISE_MAX_DAYS):
                errors["promise_date"] = tr(
                    lang, "The payment date is from today to a year from now."
                )
        except ValueError:
            errors["promise_date"] = tr(lang, "Payment date: a date such as 31/12/2026.")
    if form.outcome == CALLBACK:
        try:
            form.callback_at = _local_datetime(raw.get("callback_at", ""), zone)
            if not now < form.callback_at <= now + timedelta(days=CALLBACK_MAX_DAYS):
                errors["callback_at"] = tr(lang, "Call back at a time in the next 90 days.")
        except ValueError:
            errors["callback_at"] = tr(lang, "Call back at: a date and a time.")
    if form.outcome == "appointment" and campaign.kind == APPOINTMENT:
        _appointment(campaign, raw, now, form, lang)
    for extension in registered():
        extension.read_outcome(campaign, raw, now, zone, lang, form)
    _fields(campaign, raw, form, lang)
    return form


def _appointment(
    campaign: Campaign, raw: Mapping[str, str], now: datetime, form: OutcomeForm, lang: str
) -> None:
    who, _, when = raw.get("slot", "").partition("|")
    person = campaign.salespeople.get(who)
    if person is None:
        form.errors["slot"] = tr(lang, "Choose a salesperson's free time.")
        return
    try:
        starts = _local_datetime(when, campaign.zone)
    except ValueError:
        form.errors["slot"] = tr(lang, "Choose a salesperson's free time.")
        return
    if starts <= now or not is_slot(person, campaign, starts):
        form.errors["slot"] = tr(lang, "%(name)s has no appointment time then.", name=person.name)
        return
    form.salesperson, form.starts_at = who, starts
    form.address = raw.get("address", "").strip()
    if not form.address:
        form.errors["address"] = tr(lang, "The appointment's address is required.")
    elif len(form.address) > 500:
        form.errors["address"] = tr(lang, "The address is too long.")


def _fields(campaign: Campaign, raw: Mapping[str, str], form: OutcomeForm, lang: str) -> None:
    for spec in campaign.form:
        text = raw.get(f"field_{spec.name}", "").strip()
        key = f"field_{spec.name}"
        if not text:
            if spec.required and spec.type != "yesno":
                form.errors[key] = tr(lang, "%(label)s is required.", label=spec.label)
            if spec.type == "yesno":
                form.data[spec.name] = False
            continue
        if len(text) > 500:
            form.errors[key] = tr(lang, "%(label)s is too long.", label=spec.label)
        elif spec.type == "number":
            try:
                form.data[spec.name] = str(Decimal(text.replace(",", ".")))
            except ArithmeticError:
                form.errors[key] = tr(lang, "%(label)s: a number.", label=spec.label)
        elif spec.type == "date":
            try:
                form.data[spec.name] = parse_day(text).isoformat()
            except ValueError:
                form.errors[key] = tr(
                    lang, "%(label)s: a date such as 31/12/2026.", label=spec.label
                )
        elif spec.type == "choice":
            if text not in spec.choices:
                form.errors[key] = tr(
                    lang,
                    "%(label)s: one of %(choices)s.",
                    label=spec.label,
                    choices=", ".join(spec.choices),
                )
            else:
                form.data[spec.name] = text
        elif spec.type == "yesno":
            form.data[spec.name] = text.lower() in ("1", "on", "yes", "true")
        else:
            form.data[spec.name] = text
