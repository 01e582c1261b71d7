"""What the legal floor would refuse for one campaign, and why, before it runs (pure): the
text of `ivr campaign check FILE`.

Day by day over the coming weeks, in the campaign's time zone: the hours the campaign may
dial (its window within the floor, the last call starting early enough to ring out), and the
days the floor closes (Sundays, national holidays) with their reason; then the rules that
apply to each contact at the moment it is dialled.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from ivr.campaigns import floor
from ivr.campaigns.model import REMINDER, Campaign
from ivr.dialpolicy import DialPolicy, check

DAYS = 14


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _last_start(end: int, ring: int) -> str:
    seconds = end * 60 - ring
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def day_line(campaign: Campaign, day: date) -> str:
    """One day: the hours dialled, or why none."""
    label = f"{day:%a %Y-%m-%d}"
    if not campaign.runs_on(day):
        return f"{label}  no calls: outside the campaign's dates"
    holiday = floor.national_holiday(day)
    if holiday is not None:
        return f"{label}  no calls: national holiday ({holiday}), whatever the calendars say"
    legal = floor.floor_of(campaign.kind).ranges_on(day)
    if not legal:
        return f"{label}  no calls: Sunday (the law)"
    mine = campaign.window.ranges_on(day, campaign.holidays)
    if not mine:
        found = campaign.holidays.get(day)
        why = f"the client's calendar ({found.name})" if found else "the campaign's hours"
        return f"{label}  no calls: {why}"
    parts = []
    for a, b in mine:
        for lo, hi in legal:
            start, end = max(a, lo), min(b, hi)
            if start < end:
                last = _last_start(end, campaign.ring)
                parts.append(f"{_hhmm(start)}-{_hhmm(end)} (last call starts {last})")
    return f"{label}  " + (", ".join(parts) if parts else "no calls: outside the legal hours")


def explain(campaign: Campaign, today: date, policy: DialPolicy, days: int = DAYS) -> list[str]:
    legal = floor.floor_of(campaign.kind)
    out = [
        f"campaign {campaign.id} ({campaign.kind}), file {campaign.file}",
        f"  the law's hours for {campaign.kind} calls: "
        + "; ".join(
            f"{name} {', '.join(f'{_hhmm(a)}-{_hhmm(b)}' for a, b in legal.days[i]) or 'never'}"
            for i, name in ((0, "Mon-Fri"), (5, "Sat"), (6, "Sun"))
        )
        + ", never on national holidays, in the contact's time zone",
        f"  calls ring {campaign.ring} s: none starts later than the hours' end less that",
    ]
    presented = check(policy, campaign.caller_id)
    out.append(
        f"  presented number {campaign.caller_id}: "
        + ("accepted by the dial policy" if presented.allowed else f"REFUSED: {presented.reason}")
    )
    if campaign.kind == REMINDER:
        out.append("  opposition register: not needed (reminders to the client's debtors)")
    elif campaign.own_customers:
        out.append(
            "  opposition register: skipped only for rows with a customer_until date, up to"
            " own_customers_days after it; the other rows need a fresh check"
        )
    else:
        out.append(
            f"  opposition register: every list checked within {floor.REGISTER_MAX_DAYS} days,"
            " on or after its import, never dated in the future"
        )
    out.append(
        "  refused at the moment of dialling: numbers the dial policy refuses, numbers on the"
        f" center's or {campaign.client_name}'s do-not-call list, numbers whose call was"
        f" abandoned in the last {floor.ABANDON_REST_DAYS} days (any campaign), and after that"
        " rest any call without an operator already free"
    )
    out.append(
        f"  abandoned calls at most {floor.ABANDON_CAP:.0%} of the answered ones per day;"
        f" machine detection {'on' if campaign.amd else 'off'}"
        + ("; recorded after the fixed notice" if campaign.recording else "")
    )
    out.append(f"  the next {days} days ({campaign.zone}):")
    out += ["    " + day_line(campaign, today + timedelta(days=n)) for n in range(days)]
    return out


def today_in(campaign: Campaign, now: datetime) -> date:
    return now.astimezone(floor.ZoneInfo(campaign.zone)).date()
