"""A client's monthly statement: each billed campaign's results priced by its bands, the band
reached and how far the next one is, what is contested, credited or not held, and the credit
or debit lines for results of earlier months that changed after their own statement.

A statement is a draft until it is issued; issued, it is frozen (its rows are never changed,
the database refuses it) and shown as it was. What changes later about one of its results (a
contest credited, a visit found not held, a payment confirmed late, a band no longer reached)
is priced again with the month as it stands now, and the difference of each result from what
was billed for it becomes a line of the next statement issued.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.billing import audit
from ivr.billing.bands import ZERO, cents, price
from ivr.billing.models import Line, Statement
from ivr.billing.results import BILLABLE, CREDITED, NOT_HELD, Month, Result, gather
from ivr.campaigns.model import Campaign

Sessions = async_sessionmaker[AsyncSession]
NOTHING = Decimal("0.00")


class StatementError(Exception):
    """A statement cannot be issued (yet): the message says why."""


@dataclass
class Item:
    """One result on a statement."""

    key: str
    kind: str
    at: datetime
    label: str
    status: str
    recovered: Decimal | None
    price: Decimal | None  # billed (None: not billed, see status)
    band: int | None  # from 1
    contest: dict[str, Any] | None = None
    verification: dict[str, Any] | None = None


@dataclass
class Section:
    """One campaign's results of the month, priced."""

    campaign_id: str
    name: str
    kind: str
    mode: str
    by: str
    bands: list[tuple[int, Decimal | None, Decimal | None, Decimal | None]]
    items: list[Item]
    measure: Decimal
    band: int
    to_next: Decimal | None
    total: Decimal

    @property
    def next_band(self) -> int | None:
        return None if self.to_next is None else self.band + 1


@dataclass
class Adjustment:
    """A result of an earlier month whose price changed after that month's statement."""

    of_month: str
    campaign_id: str
    key: str
    label: str
    was: Decimal
    now: Decimal
    reason: str  # credited:<contest>, not-held:<verification>, withdrawn, late, repriced

    @property
    def delta(self) -> Decimal:
        return self.now - self.was


@dataclass
class View:
    client_id: str
    client_name: str
    month: str
    zone: str
    sections: list[Section]
    adjustments: list[Adjustment]
    issued_at: datetime | None = None
    issued_by: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return sum((s.total for s in self.sections), NOTHING) + sum(
            (a.delta for a in self.adjustments), NOTHING
        )

    @property
    def issued(self) -> bool:
        return self.issued_at is not None

    def as_data(self) -> dict[str, Any]:
        return audit.plain(
            {
                "sections": [
                    {**vars(s), "items": [vars(i) for i in s.items]} for s in self.sections
                ],
                "adjustments": [vars(a) for a in self.adjustments],
                "counts": self.counts,
                "zone": self.zone,
                "client_name": self.client_name,
            }
        )


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def from_row(row: Statement) -> View:
    """An issued statement as it was shown when it was issued."""
    data = row.data
    sections = []
    for s in data.get("sections", []):
        items = [
            Item(i["key"], i["kind"], datetime.fromisoformat(i["at"]), i["label"], i["status"],
                 _dec(i["recovered"]), _dec(i["price"]), i["band"], i.get("contest"),
                 i.get("verification"))
            for i in s["items"]
        ]  # fmt: skip
        bands = [(n, _dec(u), _dec(p), _dec(c)) for n, u, p, c in s["bands"]]
        sections.append(
            Section(s["campaign_id"], s["name"], s["kind"], s["mode"], s["by"], bands, items,
                    Decimal(s["measure"]), s["band"], _dec(s["to_next"]), Decimal(s["total"]))
        )  # fmt: skip
    adjustments = [
        Adjustment(a["of_month"], a["campaign_id"], a["key"], a["label"], Decimal(a["was"]),
                   Decimal(a["now"]), a["reason"])
        for a in data.get("adjustments", [])
    ]  # fmt: skip
    return View(row.client_id, data.get("client_name", row.client_id), row.month,
                data.get("zone", "Europe/Rome"), sections, adjustments, row.issued_at,
                row.issued_by, dict(data.get("counts", {})))  # fmt: skip


def _summary(result: Result) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    contest = verification = None
    if result.contest is not None:
        c = result.contest
        contest = {"id": c.id, "reason": c.reason, "status": c.status, "verdict": c.verdict,
                   "questioned": c.questioned_by is not None}  # fmt: skip
    if result.verification is not None:
        v = result.verification
        verification = {"id": v.id, "status": result.check_status or v.status,
                        "happened": v.happened,
                        "sampled": v.sampled, "contested": v.contested}  # fmt: skip
    return contest, verification


def price_section(campaign: Campaign, results: list[Result]) -> Section:
    terms = campaign.billing
    assert terms is not None
    billable = [r for r in results if r.billable]
    priced = price(terms.scale, [r.amount for r in billable])
    by_key = {r.key: (line, band) for r, line, band in zip(billable, priced.lines, priced.bands,
                                                            strict=True)}  # fmt: skip
    items = []
    for result in results:
        line, band = by_key.get(result.key, (None, None))
        contest, verification = _summary(result)
        items.append(
            Item(result.key, result.kind, result.at, result.label, result.status, result.amount,
                 line, None if band is None else band + 1, contest, verification)
        )  # fmt: skip
    return Section(
        campaign.id, campaign.name, campaign.kind, terms.scale.mode, terms.scale.by,
        terms.describe(), items, priced.measure, priced.band, priced.to_next, priced.total,
    )  # fmt: skip


def billed_campaigns(campaigns: list[Campaign], client_id: str) -> list[Campaign]:
    return [c for c in campaigns if c.client_id == client_id and c.billing is not None]


async def _priced_month(
    session: AsyncSession, campaigns: list[Campaign], client_id: str, month: Month, zone: str,
    now: datetime,
) -> tuple[list[Section], dict[str, Result]]:  # fmt: skip
    results = await gather(session, campaigns, client_id, month, zone, now)
    sections = [
        price_section(c, [r for r in results if r.campaign_id == c.id])
        for c in billed_campaigns(campaigns, client_id)
    ]
    return sections, {r.key: r for r in results}


async def _adjustments(
    session: AsyncSession, campaigns: list[Campaign], client_id: str, month: Month, zone: str,
    now: datetime,
) -> list[Adjustment]:  # fmt: skip
    lines = list(
        await session.scalars(
            select(Line).where(Line.client_id == client_id, Line.of_month < str(month))
        )
    )
    known = {c.id for c in billed_campaigns(campaigns, client_id)}
    out: list[Adjustment] = []
    for of_month in sorted({line.of_month for line in lines}):
        billed: dict[str, Decimal] = {}
        labels: dict[str, tuple[str, str]] = {}
        for line in lines:
            if line.of_month == of_month and line.campaign_id in known:
                billed[line.result_key] = billed.get(line.result_key, NOTHING) + line.price
                labels.setdefault(line.result_key, (line.campaign_id, line.label))
        sections, results = await _priced_month(
            session, campaigns, client_id, Month.parse(of_month), zone, now
        )
        current = {i.key: (s.campaign_id, i.label, i.price or NOTHING) for s in sections
                   for i in s.items}  # fmt: skip
        for key in sorted(set(billed) | {k for k, v in current.items() if v[2]}):
            if key in current:
                campaign_id, label, now_price = current[key]
            else:
                (campaign_id, label), now_price = labels[key], NOTHING
            was = billed.get(key, NOTHING)
            if now_price == was:
                continue
            reason = _reason(results.get(key), was)
            out.append(Adjustment(of_month, campaign_id, key, label, was, now_price, reason))
    return out


def _reason(result: Result | None, was: Decimal) -> str:
    if result is None:
        return "withdrawn"
    if result.status == CREDITED and result.contest is not None:
        return f"credited:{result.contest.id}"
    if result.status == NOT_HELD and result.verification is not None:
        return f"not-held:{result.verification.id}"
    if result.status != BILLABLE:
        return "withdrawn"
    return "late" if was == ZERO else "repriced"


def _counts(sections: list[Section]) -> dict[str, int]:
    items = [i for s in sections for i in s.items]
    return {
        "results": len(items),
        "billed": sum(i.price is not None for i in items),
        "contested": sum(i.contest is not None for i in items),
        "open": sum(i.contest is not None and i.contest["status"] == "open" for i in items),
        "credited": sum(i.status == CREDITED for i in items),
        "not_held": sum(i.status == NOT_HELD for i in items),
        "upcoming": sum(i.status == "upcoming" for i in items),
    }


async def issued(session: AsyncSession, client_id: str, month: Month) -> Statement | None:
    return await session.scalar(
        select(Statement).where(Statement.client_id == client_id, Statement.month == str(month))
    )


async def issued_months(sessions: Sessions, client_id: str) -> dict[str, Statement]:
    async with sessions() as session:
        rows = await session.scalars(select(Statement).where(Statement.client_id == client_id))
        return {row.month: row for row in rows}


async def draft(
    session: AsyncSession,
    campaigns: list[Campaign],
    client_id: str,
    client_name: str,
    zone: str,
    month: Month,
    now: datetime,
) -> View:
    sections, _ = await _priced_month(session, campaigns, client_id, month, zone, now)
    adjustments = await _adjustments(session, campaigns, client_id, month, zone, now)
    return View(client_id, client_name, str(month), zone, sections, adjustments,
                counts=_counts(sections))  # fmt: skip


async def statement(
    sessions: Sessions,
    campaigns: list[Campaign],
    client_id: str,
    client_name: str,
    zone: str,
    month: Month,
    now: datetime,
) -> View:
    """The month's statement: as issued if it was, else the draft as it stands now."""
    async with sessions() as session:
        row = await issued(session, client_id, month)
        if row is not None:
            return from_row(row)
        return await draft(session, campaigns, client_id, client_name, zone, month, now)


async def issue(
    sessions: Sessions,
    campaigns: list[Campaign],
    client_id: str,
    client_name: str,
    zone: str,
    month: Month,
    by: str,
    now: datetime,
) -> tuple[View, bool]:
    """Freeze the month's statement; (the statement, True) if this call issued it, (the one
    issued before, False) if it was already. StatementError before the month is over."""
    if now < month.end(zone):
        raise StatementError(f"{month} is not over yet: its statement is issued once it is")
    try:
        async with sessions.begin() as session:
            found = await issued(session, client_id, month)
            if found is not None:
                return from_row(found), False
            view = await draft(session, campaigns, client_id, client_name, zone, month, now)
            view.issued_at, view.issued_by = now, by
            row = Statement(
                client_id=client_id,
                month=str(month),
                issued_at=now,
                issued_by=by[:255],
                total=cents(view.total),
                data=view.as_data(),
            )
            session.add(row)  # fmt: skip
            await session.flush()
            for section in view.sections:
                for item in section.items:
                    if item.price is None:
                        continue
                    session.add(
                        Line(statement_id=row.id, client_id=client_id, of_month=str(month),
                             campaign_id=section.campaign_id, result_key=item.key, kind="result",
                             label=item.label, recovered=item.recovered, price=item.price,
                             band=item.band, reason=None)
                    )  # fmt: skip
            for adj in view.adjustments:
                session.add(
                    Line(statement_id=row.id, client_id=client_id, of_month=adj.of_month,
                         campaign_id=adj.campaign_id, result_key=adj.key, kind="adjustment",
                         label=adj.label, recovered=None, price=adj.delta, band=None,
                         reason=adj.reason)
                )  # fmt: skip
            await audit.record(
                session, client_id, by, f"statement {month}", "issued", None,
                {"total": view.total, "results": view.counts.get("billed", 0),
                 "adjustments": len(view.adjustments)}, now,
            )  # fmt: skip
        return view, True
    except IntegrityError:  # another engine issued it meanwhile
        async with sessions() as session:
            found = await issued(session, client_id, month)
            assert found is not None
            return from_row(found), False
