"""The monthly statement: results priced by their campaign's bands, only confirmed payments
billed, what is not held or credited left out, frozen once issued (the database refuses to
change it) with later changes as credit and debit lines on the next statement; its CSV,
printable page and text, in Italian and English."""

from __future__ import annotations

import asyncio
import csv
import io
from decimal import Decimal

import pytest
from billing_world import APRIL, MARCH, World, day, rome
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from ivr.billing import disputes, payments, render, statement
from ivr.billing.models import Payment, Statement, Verification
from ivr.billing.results import Month

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates

D = Decimal


def prices(view: statement.View, campaign: str) -> list[tuple[str, str, Decimal | None]]:
    [section] = [s for s in view.sections if s.campaign_id == campaign]
    return [(i.key, i.status, i.price) for i in section.items]


async def test_appointments_are_priced_in_graduated_bands_and_say_how_far_the_next_is(
    world: World,
) -> None:
    ids = [await world.appointment(rome(d)) for d in (2, 3, 4, 5)]
    await world.appointment(rome(20, month=4))  # April's: not on March's statement
    view = await world.statement(MARCH)
    assert prices(view, "visits") == [
        (f"A{ids[0]}", "billable", D("50.00")),
        (f"A{ids[1]}", "billable", D("50.00")),
        (f"A{ids[2]}", "billable", D("70.00")),
        (f"A{ids[3]}", "billable", D("70.00")),
    ]
    [visits] = [s for s in view.sections if s.campaign_id == "visits"]
    assert (visits.band, visits.to_next, visits.total) == (2, D(2), D("240.00"))
    assert view.total == D("240.00") and not view.issued
    assert render.band_text("en", visits) == "Band 2 reached: 2 more appointments to reach band 3"
    assert render.band_text("it", visits) == (
        "Fascia 2 raggiunta: ancora 2 appuntamenti per raggiungere la fascia 3"
    )
    april = await world.statement(APRIL)  # its appointment is still to come on April 5th
    assert prices(april, "visits")[0][1:] == ("upcoming", None) and april.total == 0


async def test_only_confirmed_payments_are_billed_at_a_share_of_the_amount_recovered(
    world: World,
) -> None:
    first = await world.promise("800", rome(3))
    second = await world.promise("600", rome(4))
    await world.promise("999", rome(5))  # promised, never confirmed: not billed

    async def confirm(attempt: int, amount: str, paid: str) -> str | None:
        problem, _ = await payments.confirm_one(
            world.sessions, world.campaigns, "acme", attempt, D(amount), day(paid), "admin",
            "area", world.now, "Europe/Rome",
        )  # fmt: skip
        return problem

    assert await confirm(first, "800", "2027-03-10") is None
    assert await confirm(second, "600", "2027-03-20") is None
    assert await confirm(second, "0", "2027-03-20") == "The amount paid is more than 0."
    assert await confirm(second, "10", "2027-05-01") == (
        "The day of payment cannot be in the future."
    )
    assert await confirm(second, "10", "2027-03-01") == (
        "The day of payment is before the promise was made."
    )
    other = await world.sale(rome(5))  # not a promise
    assert await confirm(other, "10", "2027-03-10") == "There is no such promise to pay."
    view = await world.statement(MARCH)
    # 10 % of the first 1,000 EUR recovered, 5 % of the rest: 800 -> 80, then 200 at 10 %
    # and 400 at 5 % -> 40.
    assert [(s, p) for _, s, p in prices(view, "debts")] == [
        ("billable", D("80.00")), ("billable", D("40.00"))
    ]  # fmt: skip
    [debts] = [s for s in view.sections if s.campaign_id == "debts"]
    assert debts.measure == D("1400") and debts.band == 2 and debts.to_next is None
    # A correction of the amount is a change like any other.
    assert await confirm(second, "700", "2027-03-20") is None
    view = await world.statement(MARCH)
    assert [p for _, _, p in prices(view, "debts")] == [D("80.00"), D("45.00")]


async def test_sales_in_volume_bands_all_at_the_band_reached(world: World) -> None:
    for d in (2, 3):
        await world.sale(rome(d))
    await world.sale(rome(4), outcome="interested")  # the contract counts sales only
    view = await world.statement(MARCH)
    assert [p for _, _, p in prices(view, "offers")] == [D("30.00"), D("30.00")]
    await world.sale(rome(20))  # the third sale reaches band 2: every sale at 40
    view = await world.statement(MARCH)
    assert [p for _, _, p in prices(view, "offers")] == [D("40.00")] * 3
    assert view.total == D("120.00")


async def test_what_was_not_held_or_was_credited_is_not_billed(world: World) -> None:
    kept, gone, credited = [await world.appointment(rome(d)) for d in (2, 3, 4)]
    async with world.sessions.begin() as session:
        for appointment in (kept, gone):
            session.add(Verification(
                client_id="acme", appointment_id=appointment, campaign_id="visits-verify",
                sampled=True, contested=False, not_operator="op1", created_at=world.now,
                status="done", happened=False,
            ))  # fmt: skip
    # The center looked at kept's contest and decided it stays billed: that decision wins.
    contest, problem = await disputes.file(
        world.sessions,
        world.campaigns,
        "acme",
        "Europe/Rome",
        f"A{credited}",
        "other",
        "",
        "admin",
        world.now,
    )
    assert problem is None and contest is not None
    assert await disputes.decide(world.sessions, "acme", contest.id, "credit", "boss", "",
                                 world.now) is None  # fmt: skip
    view = await world.statement(MARCH)
    assert [(k, s) for k, s, _ in prices(view, "visits")] == [
        (f"A{kept}", "not-held"), (f"A{gone}", "not-held"), (f"A{credited}", "credited")
    ]  # fmt: skip
    assert view.total == 0 and view.counts["credited"] == 1 and view.counts["not_held"] == 2


async def test_an_issued_statement_is_frozen_and_later_changes_go_on_the_next(
    world: World,
) -> None:
    a1, a2, a3 = [await world.appointment(rome(d)) for d in (2, 3, 4)]
    promise = await world.promise("500", rome(5))
    march = await world.issue(MARCH)
    assert march.issued and march.total == D("170.00")  # 50 + 50 + 70

    # After the statement: a contest on A1 is credited, a payment of March is confirmed.
    contest, _ = await disputes.file(
        world.sessions,
        world.campaigns,
        "acme",
        "Europe/Rome",
        f"A{a1}",
        "duplicate",
        "twice",
        "admin",
        world.now,
    )
    assert contest is not None
    await disputes.decide(world.sessions, "acme", contest.id, "credit", "boss", "", world.now)
    await payments.confirm_one(
        world.sessions,
        world.campaigns,
        "acme",
        promise,
        D("500"),
        day("2027-03-25"),
        "admin",
        "area",
        world.now,
        "Europe/Rome",
    )

    again = await world.statement(MARCH)  # frozen: as it was issued
    assert again.total == D("170.00") and again.issued_at == march.issued_at
    assert [(k, s) for k, s, _ in prices(again, "visits")][0] == (f"A{a1}", "billable")

    world.now = rome(5, 12, month=5)
    april = await world.statement(APRIL)
    async with world.sessions() as session:
        paid = await session.scalar(select(Payment.id).where(Payment.attempt_id == promise))
    got = {(a.key, a.reason.split(":")[0]): a.delta for a in april.adjustments}
    # A1 credited (-50); with two appointments left March stays in band 1, so A3 is priced
    # 50 instead of 70 (-20); the late payment is billed at 10 % (+50).
    assert got == {(f"A{a1}", "credited"): D("-50.00"), (f"A{a3}", "repriced"): D("-20.00"),
                   (f"P{paid}", "late"): D("50.00")}  # fmt: skip
    assert april.total == D("-20.00")
    await world.issue(APRIL)
    may = await world.statement(Month(2027, 5))
    assert may.adjustments == []  # told once, on the statement after the change
    assert a2  # (A2 kept its price: no line for it)

    async with world.engine.begin() as connection:
        for sql in ("UPDATE billing_lines SET price = 0",
                    "DELETE FROM billing_lines",
                    "UPDATE billing_statements SET total = 1",
                    "DELETE FROM billing_statements",
                    "DELETE FROM billing_audit",
                    "UPDATE billing_audit SET action = 'x'"):  # fmt: skip
            with pytest.raises(DBAPIError, match="append-only"):
                async with connection.begin_nested():
                    await connection.execute(text(sql))
        await connection.execute(text("UPDATE billing_lines SET label = ''"))  # an erasure may


async def test_a_month_is_issued_once_and_only_once_it_is_over(world: World) -> None:
    await world.appointment(rome(2))
    world.now = rome(31, 22)
    with pytest.raises(statement.StatementError, match="not over"):
        await world.issue(MARCH)
    world.now = rome(1, 1, month=4)
    results = await asyncio.gather(
        *(statement.issue(world.sessions, world.campaigns, "acme", "Acme", "Europe/Rome", MARCH,
                          f"engine {n}", world.now) for n in range(3))
    )  # fmt: skip
    assert sorted(new for _, new in results) == [False, False, True]
    async with world.sessions() as session:
        rows = list(await session.scalars(Statement.__table__.select()))
    assert len(rows) == 1


async def test_the_csv_the_printable_page_and_the_text(world: World) -> None:
    ids = [await world.appointment(rome(d), company=f"Bar <b>{d}</b>") for d in (2, 3, 4)]
    await world.sale(rome(6))
    view = await world.statement(MARCH)
    rows = list(csv.reader(io.StringIO(render.csv_text(view, "it"))))
    assert rows[0][:3] == ["Mese", "Campagna", "Risultato"]
    by_key = {r[2]: r for r in rows[1:] if r[2]}
    assert by_key[f"A{ids[2]}"][6:10] == ["fatturato", "", "2", "70.00"]
    assert rows[-1][3] == "Totale" and rows[-1][9] == "200.00"
    page = render.printable(view, "en")
    assert "@media print" in page and "@page" in page
    assert "Bar &lt;b&gt;2&lt;/b&gt;" in page and "<b>2</b>" not in page  # escaped
    assert 'data-total="200.00"' in page and "2 more results to reach band 2" in page
    printed = render.text(view)
    assert "TOTAL EUR 200.00" in printed and "draft: not issued yet" in printed
    assert "band 2: 3 to 5: €70.00  <- reached" in printed
