"""A client's own edits in force, their versions, and the audit log.

Edits are checked here as the rules loader checks the same values (numbers through the dial
policy, on-call days and hours with the rules' own parsers), and read back wherever they
apply: the console's card and the escalation ladder read the newest version when they need it,
so an edit applies to the next call without a reload or a restart.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.dialpolicy import COUNTRY, DialPolicy, check
from ivr.i18n import tr
from ivr.routing.clock import MINUTES_PER_DAY, ClockError, days_mask, parse_days, parse_range
from ivr.routing.decision import ClientCard
from ivr.routing.model import Contact, Ladder, Window
from ivr.selfservice.models import AuditEntry, ClientVersion

Sessions = async_sessionmaker[AsyncSession]
CARD, LADDER = "card", "ladder"
INSTRUCTIONS_MAX = 2000
NAME_MAX = 100
WAIT_RANGE = (5, 600)
MAX_CONTACTS = 10
FIELDS = ("name", "number", "wait", "email", "days", "hours")  # a contact's form fields
_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,}$")


@dataclass(frozen=True)
class Version:
    version: int
    data: dict[str, Any]
    author: str
    at: datetime


async def current(sessions: Sessions, client_id: str, kind: str, key: str = "") -> Version | None:
    async with sessions() as session:
        row = await session.scalar(
            select(ClientVersion)
            .where(
                ClientVersion.client_id == client_id,
                ClientVersion.kind == kind,
                ClientVersion.key == key,
            )
            .order_by(ClientVersion.version.desc())
            .limit(1)
        )
    return None if row is None else Version(row.version, row.data, row.author, row.at)


async def history(
    sessions: Sessions, client_id: str, kind: str, key: str = "", limit: int = 20
) -> list[Version]:
    async with sessions() as session:
        rows = await session.scalars(
            select(ClientVersion)
            .where(
                ClientVersion.client_id == client_id,
                ClientVersion.kind == kind,
                ClientVersion.key == key,
            )
            .order_by(ClientVersion.version.desc())
            .limit(limit)
        )
        return [Version(r.version, r.data, r.author, r.at) for r in rows]


async def save(
    sessions: Sessions,
    client_id: str,
    kind: str,
    key: str,
    data: dict[str, Any],
    author: str,
    now: datetime,
) -> int:
    """Store a new version (and its audit entry in the same transaction); its number."""
    for _ in range(3):  # two editors at once: the second takes the next number
        try:
            async with sessions.begin() as session:
                latest = await session.scalar(
                    select(func.max(ClientVersion.version)).where(
                        ClientVersion.client_id == client_id,
                        ClientVersion.kind == kind,
                        ClientVersion.key == key,
                    )
                )
                number = int(latest or 0) + 1
                session.add(
                    ClientVersion(
                        client_id=client_id,
                        kind=kind,
                        key=key,
                        version=number,
                        data=data,
                        author=author,
                        at=now,
                    )
                )
                session.add(
                    AuditEntry(
                        client_id=client_id,
                        at=now,
                        actor=author,
                        action=f"{kind}.edit",
                        detail={"key": key, "version": number, **data},
                    )
                )
            return number
        except IntegrityError:
            continue
    raise RuntimeError(f"could not store a new {kind} version for {client_id}")


async def audit(
    sessions: Sessions,
    client_id: str,
    actor: str,
    action: str,
    detail: Mapping[str, Any],
    now: datetime,
) -> None:
    async with sessions.begin() as session:
        session.add(
            AuditEntry(client_id=client_id, at=now, actor=actor, action=action, detail=dict(detail))
        )


async def audit_log(sessions: Sessions, client_id: str, limit: int = 200) -> list[AuditEntry]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.client_id == client_id)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .limit(limit)
        )
        return list(rows)


# -- what applies ---------------------------------------------------------------------------


async def card_for(sessions: Sessions, card: ClientCard) -> ClientCard:
    """The card with the client's own newest instructions, if it wrote any."""
    found = await current(sessions, card.id, CARD)
    if found is None:
        return card
    return dataclasses.replace(card, instructions=str(found.data.get("instructions", "")))


async def ladder_for(sessions: Sessions, client_id: str | None, ladder: Ladder) -> Ladder:
    """The ladder with the contacts this client last saved for it, if any."""
    if not client_id:
        return ladder
    found = await current(sessions, client_id, LADDER, ladder.id)
    if found is None:
        return ladder
    return dataclasses.replace(ladder, contacts=contacts_of(found.data.get("contacts", [])))


def contacts_of(rows: Sequence[Mapping[str, Any]]) -> tuple[Contact, ...]:
    """Contacts from their stored form (validated when saved)."""
    out = []
    for row in rows:
        window = None
        if row.get("days") or row.get("hours"):
            window = _window(str(row.get("days") or ""), str(row.get("hours") or ""))
        out.append(
            Contact(
                str(row["name"]),
                str(row["number"]),
                int(row.get("wait", 30)),
                row.get("email") or None,
                window,
            )
        )
    return tuple(out)


def contact_rows(ladder: Ladder) -> list[dict[str, Any]]:
    """A ladder's contacts as the edit form shows them."""
    from ivr.routing.clock import DAY_NAMES, format_range

    rows = []
    for c in ladder.contacts:
        days = hours = ""
        if c.on_call is not None:
            if c.on_call.days != 0x7F:
                days = ",".join(n for i, n in enumerate(DAY_NAMES) if c.on_call.days >> i & 1)
            hours = " ".join(format_range(a, b) for a, b in c.on_call.ranges)
        rows.append(
            {
                "name": c.name,
                "number": c.number,
                "wait": c.wait,
                "email": c.email or "",
                "days": days,
                "hours": hours,
            }
        )
    return rows


# -- checks, as the rules loader makes them --------------------------------------------------


def trunk_digits(e164: str, country: str = COUNTRY) -> str:
    """A checked E.164 number as the trunk dials it, as the rules write numbers: a national
    number of the center's country in full ("+39 06 1234567" -> "061234567"), any other
    with the international prefix ("+44 20 ..." -> "004420..."). Not the digits of what was
    typed: "+39 06..." is not "3906...")."""
    if e164.startswith("+" + country):
        return e164[1 + len(country) :]
    return "00" + e164.lstrip("+")


def _window(days: str, hours: str) -> Window:
    mask = days_mask(parse_days(days)) if days.strip() else 0x7F
    ranges: list[tuple[int, int]] = []
    for text in hours.replace(",", " ").split():
        first, last = parse_range(text)
        if last > first:
            ranges.append((first, last))
        else:  # past midnight
            ranges.extend([(first, MINUTES_PER_DAY), (0, last)])
    return Window(mask, tuple(ranges))


def _text_problem(lang: str, value: str, most: int) -> str | None:
    if len(value) > most:
        return tr(lang, "At most %(most)d characters.", most=most)
    if any(ord(c) < 32 and c not in "\r\n\t" for c in value) or "\x7f" in value:
        return tr(lang, "Control characters are not allowed.")
    return None


def check_instructions(text: str, lang: str) -> str | None:
    """Why these card instructions cannot be saved, or None."""
    return _text_problem(lang, text, INSTRUCTIONS_MAX)


def check_contacts(
    rows: Sequence[Mapping[str, str]], policy: DialPolicy, lang: str
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Contacts from a form's rows (blank rows dropped): (contacts, errors by "row.field")."""
    contacts: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for i, row in enumerate(rows):
        values = {k: str(row.get(k, "")).strip() for k in ("name", "number", "wait", "email")}
        values["days"] = str(row.get("days", "")).strip().lower()
        values["hours"] = str(row.get("hours", "")).strip()
        if not any(values.values()):
            continue
        if not values["name"]:
            errors[f"{i}.name"] = tr(lang, "A name is required.")
        elif problem := _text_problem(lang, values["name"], NAME_MAX):
            errors[f"{i}.name"] = problem
        verdict = check(policy, values["number"])
        if not verdict.allowed:
            errors[f"{i}.number"] = tr(
                lang, "This number may not be dialled: %(reason)s.", reason=verdict.reason
            )
        digits = trunk_digits(verdict.number) if verdict.allowed else ""
        try:
            wait = int(values["wait"] or "30")
            if not WAIT_RANGE[0] <= wait <= WAIT_RANGE[1]:
                raise ValueError
        except ValueError:
            wait = 0
            errors[f"{i}.wait"] = tr(
                lang,
                "Ring for %(low)d to %(high)d seconds.",
                low=WAIT_RANGE[0],
                high=WAIT_RANGE[1],
            )
        if values["email"] and not _EMAIL.match(values["email"]):
            errors[f"{i}.email"] = tr(lang, "Not an email address.")
        try:
            _window(values["days"], values["hours"])
        except ClockError as exc:
            errors[f"{i}.hours"] = tr(lang, "On call: %(problem)s", problem=str(exc))
        contacts.append(
            {
                "name": values["name"],
                "number": digits,
                "wait": wait,
                "email": values["email"],
                "days": values["days"],
                "hours": values["hours"],
            }
        )
    if not contacts and not errors:
        errors["ladder"] = tr(lang, "A ladder needs at least one contact.")
    if len(contacts) > MAX_CONTACTS:
        errors["ladder"] = tr(lang, "At most %(most)d contacts.", most=MAX_CONTACTS)
    return contacts, errors
