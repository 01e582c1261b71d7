"""Who may be called, and when: pure decisions, each refusal with its reason.

judge() says why a contact may not be called now (None: it may); after_call() and
after_outcome() say what becomes of a contact once a call or the operator's outcome is known.
A permanent refusal (dial policy, do-not-call, the opposition register, attempts used up)
ends the contact; a temporary one (the window, the day's attempts, a stale register check)
says until when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ivr.campaigns.model import (
    CALLBACK,
    CONNECTED,
    DO_NOT_CALL,
    DROPPED,
    Campaign,
)
from ivr.dialpolicy import DialPolicy, check

# Reasons, as stored in campaign_refusals.reason and campaign_contacts.refusal.
POLICY = "dial-policy"
DNC_CENTER = "do-not-call"  # the center's list: anyone who asked, in any campaign
DNC_CLIENT = "client-do-not-call"
REGISTER = "register"  # found in the opposition register
REGISTER_STALE = "register-stale"  # the list's check is too old, or was never done
ATTEMPTS = "attempts"
PER_DAY = "per-day"
WINDOW = "window"
DATES = "dates"

# Contact statuses.
PENDING, DIALLING, PREVIEWING, TALKING = "pending", "dialling", "previewing", "talking"
DONE, REFUSED, EXHAUSTED = "done", "refused", "exhausted"
OPEN_STATUSES = (PENDING, DIALLING, PREVIEWING, TALKING)


@dataclass(frozen=True)
class ContactFacts:
    number: str
    zone: str | None
    attempts: int  # calls placed so far
    attempts_today: int
    list_checked_on: date | None
    in_register: bool
    do_not_call: frozenset[str] = frozenset()  # scopes that list the number ("*", client)


@dataclass(frozen=True)
class Refusal:
    reason: str
    detail: str
    until: datetime | None = None  # temporary: when to look again; None: never

    @property
    def permanent(self) -> bool:
        return self.until is None and self.reason not in (REGISTER_STALE, WINDOW, DATES)


def register_fresh(checked_on: date | None, today: date, max_days: int) -> bool:
    return checked_on is not None and (today - checked_on).days <= max_days


def judge(
    campaign: Campaign,
    contact: ContactFacts,
    now: datetime,
    policy: DialPolicy,
    register_max_days: int,
) -> Refusal | None:
    verdict = check(policy, contact.number)
    if not verdict.allowed:
        return Refusal(POLICY, verdict.reason)
    if "*" in contact.do_not_call:
        return Refusal(DNC_CENTER, "on the center's do-not-call list")
    if campaign.client_id in contact.do_not_call:
        return Refusal(DNC_CLIENT, f"on {campaign.client_name}'s do-not-call list")
    if campaign.register_required:
        if contact.in_register:
            return Refusal(REGISTER, "in the opposition register (Registro delle opposizioni)")
        zone = ZoneInfo(campaign.zone)
        today = now.astimezone(zone).date()
        if not register_fresh(contact.list_checked_on, today, register_max_days):
            when = contact.list_checked_on.isoformat() if contact.list_checked_on else "never"
            return Refusal(
                REGISTER_STALE,
                f"the list's register check ({when}) is older than {register_max_days} days",
            )
    if contact.attempts >= campaign.max_attempts:
        return Refusal(
            ATTEMPTS, f"{contact.attempts} calls: the campaign allows {campaign.max_attempts}"
        )
    zone_name = contact.zone or campaign.zone
    if contact.attempts_today >= campaign.per_day:
        tomorrow = _next_day(now, zone_name)
        until = campaign.window.next_open(tomorrow, zone_name, campaign.holidays)
        return Refusal(PER_DAY, f"{contact.attempts_today} calls today", until or _far(now))
    if not campaign.window.is_open(now, zone_name, campaign.holidays):
        until = campaign.window.next_open(now, zone_name, campaign.holidays)
        return Refusal(WINDOW, f"outside the calling window ({zone_name})", until or _far(now))
    return None


def _next_day(now: datetime, zone: str) -> datetime:
    local = now.astimezone(ZoneInfo(zone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return midnight.replace(tzinfo=ZoneInfo(zone))


def _far(now: datetime) -> datetime:
    return now + timedelta(days=365)


def local_midnight(now: datetime, zone: str) -> datetime:
    """The start of today in zone (for "per day" counts)."""
    local = now.astimezone(ZoneInfo(zone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Next:
    status: str
    next_at: datetime
    note: str = ""


def after_call(
    campaign: Campaign, outcome: str, now: datetime, attempts: int, rest_days: int
) -> Next:
    """What becomes of the contact once the call ended with this system outcome."""
    if outcome == CONNECTED:
        return Next(TALKING, now)
    if outcome == DROPPED:  # the law: that number is not called again for rest_days
        return _retry(campaign, now + timedelta(days=rest_days), attempts, "dropped")
    minutes = campaign.retry_minutes.get(outcome, campaign.retry_minutes.get("unknown", 120))
    return _retry(campaign, now + timedelta(minutes=minutes), attempts, outcome)


def _retry(campaign: Campaign, at: datetime, attempts: int, why: str) -> Next:
    if attempts >= campaign.max_attempts:
        return Next(EXHAUSTED, at, f"{why}; {attempts} calls made")
    return Next(PENDING, at, why)


def after_outcome(outcome: str, callback_at: datetime | None, now: datetime) -> Next:
    """What becomes of the contact once the operator recorded the outcome."""
    if outcome == CALLBACK and callback_at is not None:
        return Next(PENDING, callback_at, "call back")  # the window applies when it is due
    if outcome == DO_NOT_CALL:
        return Next(DONE, now, "asked not to be called")
    return Next(DONE, now, outcome)
