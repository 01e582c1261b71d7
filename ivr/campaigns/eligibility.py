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

from ivr.campaigns import floor
from ivr.campaigns.model import (
    CALLBACK,
    CONNECTED,
    DO_NOT_CALL,
    DROPPED,
    REMINDER,
    VERIFICATION,
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
REST = "abandoned-rest"  # a call to this number was abandoned: it rests (any campaign)
REST_OPERATOR = "abandoned-operator"  # after the rest: only with an operator already free
CALLER_ID = "caller-id"  # the presented number fails the dial policy
FLOOR_REASONS = (floor.SUNDAY_REASON, floor.HOLIDAY_REASON, floor.HOURS_REASON, floor.RING_REASON)
TEMPORARY = (REGISTER_STALE, WINDOW, DATES, REST, REST_OPERATOR, CALLER_ID, *FLOOR_REASONS)

# Calls that are not telemarketing, so the opposition register does not apply: reminders to
# the client's debtors, and a verification call about an appointment the contact accepted.
NO_REGISTER = (REMINDER, VERIFICATION)

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
    list_imported_on: date | None = None
    customer_until: date | None = None  # own customers: a customer until this day
    rested_until: datetime | None = None  # an abandoned call: not before this instant
    needs_operator: bool = False  # the number's latest answered call was abandoned


@dataclass(frozen=True)
class Refusal:
    reason: str
    detail: str
    until: datetime | None = None  # temporary: when to look again; None: never

    @property
    def permanent(self) -> bool:
        return self.until is None and self.reason not in TEMPORARY


def register_fresh(
    checked_on: date | None, today: date, max_days: int, imported_on: date | None = None
) -> bool:
    """A check done, not in the future, not before the list was imported, not too old."""
    if checked_on is None or checked_on > today:
        return False
    if imported_on is not None and checked_on < imported_on:
        return False
    return (today - checked_on).days <= max_days


def register_exempt(
    campaign: Campaign, customer_until: date | None, today: date, own_customers_days: int
) -> bool:
    """Reminders never need the register; a client's own customers only while they are
    customers and for own_customers_days after (the row's customer-until date)."""
    if campaign.kind in NO_REGISTER:
        return True
    if not campaign.own_customers or customer_until is None:
        return False
    return (today - customer_until).days <= own_customers_days


def judge(
    campaign: Campaign,
    contact: ContactFacts,
    now: datetime,
    policy: DialPolicy,
    register_max_days: int,
    *,
    operator_free: bool = True,
    own_customers_days: int = floor.OWN_CUSTOMERS_MAX_DAYS,
) -> Refusal | None:
    """Why this contact may not be dialled now (None: it may). The one decision every dial
    path asks at the moment it places the call: the dial policy (the number and the
    presented one), the do-not-call lists, the register, the rest after an abandoned call,
    the attempts, the legal floor and the campaign's window (with time left to ring)."""
    verdict = check(policy, contact.number)
    if not verdict.allowed:
        return Refusal(POLICY, verdict.reason)
    if "*" in contact.do_not_call:
        return Refusal(DNC_CENTER, "on the center's do-not-call list")
    if campaign.client_id in contact.do_not_call:
        return Refusal(DNC_CLIENT, f"on {campaign.client_name}'s do-not-call list")
    presented = check(policy, campaign.caller_id)
    if not presented.allowed:
        return Refusal(
            CALLER_ID,
            f"the presented number {campaign.caller_id} fails the dial policy: {presented.reason}",
            _far(now),
        )
    zone = ZoneInfo(campaign.zone)
    today = now.astimezone(zone).date()
    if campaign.kind not in NO_REGISTER:
        if contact.in_register:
            return Refusal(REGISTER, "in the opposition register (Registro delle opposizioni)")
        exempt = register_exempt(campaign, contact.customer_until, today, own_customers_days)
        fresh = register_fresh(
            contact.list_checked_on, today, register_max_days, contact.list_imported_on
        )
        if not exempt and not fresh:
            when = contact.list_checked_on.isoformat() if contact.list_checked_on else "never"
            return Refusal(
                REGISTER_STALE,
                f"the list's register check ({when}) is missing, in the future, before the"
                f" list's import or older than {register_max_days} days",
            )
    if contact.rested_until is not None and now < contact.rested_until:
        return Refusal(
            REST,
            f"a call to this number was abandoned: no call before"
            f" {contact.rested_until.astimezone(zone):%Y-%m-%d %H:%M}",
            contact.rested_until,
        )
    if contact.needs_operator and not operator_free:
        return Refusal(
            REST_OPERATOR,
            "the last answered call to this number was abandoned: only with an operator free",
            now + timedelta(minutes=5),
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
    below = floor.refuse(campaign.kind, now, zone_name, campaign.ring)
    if below is not None:
        until = campaign.window.next_open(now + timedelta(minutes=1), zone_name,
                                          campaign.holidays)  # fmt: skip
        return Refusal(below.reason, below.detail, until or _far(now))
    closes = campaign.window.closes_at(now, zone_name, campaign.holidays)
    if closes is None:
        until = campaign.window.next_open(now, zone_name, campaign.holidays)
        return Refusal(WINDOW, f"outside the calling window ({zone_name})", until or _far(now))
    if (closes - now).total_seconds() < campaign.ring:
        until = campaign.window.next_open(closes, zone_name, campaign.holidays)
        return Refusal(
            WINDOW,
            f"the window closes at {closes.astimezone(zone):%H:%M}: no time left to ring"
            f" {campaign.ring} s",
            until or _far(now),
        )
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
