"""Campaigns through the real Asterisk: contacts behind the trunk that answer, are busy, never
answer or hang up; operators' phones that answer; an operator at the console."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from conftest import AmiEvents, Desk, Rig, e164, number
from sqlalchemy import select

from ivr.campaigns import lists
from ivr.campaigns.models import Appointment, Attempt, Contact
from ivr.campaigns.report import progress
from ivr.stack import poll

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
HEADER = ["numero", "debitore", "importo", "scadenza", "fattura"]


async def test_a_progressive_reminder_campaign_runs_to_the_end(rig: Rig) -> None:
    desk = await rig.desk("op1")
    rows = [
        [number(71, 1), "Mario Rossi", "1.250,00", "15/10/2026", "F-101"],
        [number(72, 1), "Luca Neri", "80", "2026-10-20", "F-102"],
        [number(73, 1), "Gino Bruni", "99,90", "01/11/2026", "F-103"],
        [number(74, 1), "Anna Verdi", "10", "02/11/2026", "F-104"],
    ]
    await rig.add_contacts("reminders", HEADER, rows)
    await rig.start("reminders")

    # Mario answers and is put through to op1, whose console shows the reminder's card.
    [first] = await rig.wait_attempts("reminders", lambda a: bool(a) and a[0].connected_at)
    panel = await desk.panel()
    assert 'id="debtor">Mario Rossi<' in panel
    assert "F-101" in panel and "Buongiorno Mario Rossi, fattura F-101" in panel
    status, page = await desk.post(
        "/campaign/outcome",
        {"attempt": str(first.id), "outcome": "promise", "promise_amount": "1.250,00",
         "promise_date": (date.today() + timedelta(days=10)).isoformat(), "notes": "bonifico"},
    )  # fmt: skip
    assert status == 200 and 'id="saved"' in page, page[-800:]

    attempts = await rig.wait_attempts(
        "reminders", lambda a: len(a) == 4 and all(x.ended_at for x in a), timeout=90
    )
    await rig.idle()

    by_number = {a.number: a for a in attempts}
    assert {n: a.system_outcome for n, a in by_number.items()} == {
        e164(71, 1): "connected",
        e164(72, 1): "no-answer",
        e164(73, 1): "busy",
        e164(74, 1): "hung-up",
    }
    assert all(a.seq == 1 and a.operator == "op1" and a.mode == "progressive" for a in attempts)
    # One call at a time for the one operator: each placed after the previous ended.
    ordered = sorted(attempts, key=lambda a: a.placed_at)
    for before, after in zip(ordered, ordered[1:], strict=False):
        assert before.ended_at is not None and before.ended_at <= after.placed_at
    mario = by_number[e164(71, 1)]
    assert mario.outcome == "promise" and mario.outcome_by == "op1"
    assert mario.promise_amount == Decimal("1250.00")
    assert mario.placed_at <= mario.answered_at <= mario.connected_at <= mario.ended_at
    assert mario.recording_path and mario.recording_path.endswith(f"/reminders/{mario.id}.wav")
    assert rig.stack.settings.host_path(__import__("pathlib").Path(mario.recording_path)).exists()
    assert by_number[e164(72, 1)].answered_at is None
    contacts = {c.number: c for c in await rig.contacts("reminders")}
    assert contacts[e164(71, 1)].status == "done" and contacts[e164(71, 1)].result == "promise"
    assert {contacts[e164(k, 1)].status for k in (72, 73, 74)} == {"exhausted"}
    report = await progress(rig.sessions, rig.campaign("reminders"), "running", mario.ended_at)
    assert report.left == 0 and report.contacts == 4 and report.dialled == 4
    assert report.promised == Decimal("1250.00") and report.outcomes == {"promise": 1}
    await rig.stop("reminders")


async def test_preview_shows_the_card_first_and_books_an_appointment_once(rig: Rig) -> None:
    desk = await rig.desk("op1")
    header = ["numero", "azienda", "referente", "indirizzo"]
    rows = [
        [number(71, 2), "Bar Sport", "Paolo Sport", "Via Roma 1, Roma"],
        [number(71, 3), "Forno Pane", "Lia Pane", "Via Milano 2, Roma"],
    ]
    await rig.add_contacts("valuations", header, rows)
    await rig.start("valuations")

    # The card comes first; nothing is dialled until the operator presses call.
    panel = await poll_panel(desk, 'id="call"')
    assert 'id="company">Bar Sport<' in panel and 'id="contact-person">Paolo Sport<' in panel
    assert await rig.attempts("valuations") == []
    status, _ = await desk.post("/campaign/call", {})
    assert status == 200
    [first] = await rig.wait_attempts("valuations", lambda a: bool(a) and a[0].connected_at)
    panel = await desk.panel()
    slots = re.findall(r'<option value="(giulia\|[^"]+)"', panel)
    assert slots, panel[-1500:]
    booking = {"attempt": str(first.id), "outcome": "appointment", "slot": slots[0],
               "address": "Via Roma 1, Roma"}  # fmt: skip
    status, page = await desk.post("/campaign/outcome", booking)
    assert status == 200 and 'id="saved"' in page, page[-800:]

    # The second contact's card; the same salesperson's time cannot be booked twice.
    panel = await poll_panel(desk, 'id="call"', timeout=30)
    assert "Forno Pane" in panel
    await desk.post("/campaign/call", {})
    attempts = await rig.wait_attempts(
        "valuations", lambda a: len(a) == 2 and bool(a[1].connected_at)
    )
    second = attempts[1]
    status, page = await desk.post(
        "/campaign/outcome", {**booking, "attempt": str(second.id), "address": "Via Milano 2"}
    )
    assert status == 422 and 'data-field="slot"' in page
    assert slots[0] not in page  # no longer offered
    status, page = await desk.post(
        "/campaign/outcome",
        {**booking, "attempt": str(second.id), "slot": slots[1], "address": "Via Milano 2"},
    )
    assert status == 200, page[-800:]
    await rig.wait_attempts("valuations", lambda a: all(x.ended_at for x in a))
    await rig.idle()

    async with rig.sessions() as session:
        booked = list(await session.scalars(select(Appointment).order_by(Appointment.id)))
    assert [(b.salesperson, b.address) for b in booked] == [
        ("giulia", "Via Roma 1, Roma"),
        ("giulia", "Via Milano 2"),
    ]
    assert booked[0].starts_at < booked[1].starts_at
    assert (booked[0].ends_at - booked[0].starts_at).total_seconds() == 3600
    done = await rig.attempts("valuations")
    assert [a.appointment_id for a in done] == [b.id for b in booked]
    assert all(a.mode == "preview" and a.operator == "op1" for a in done)
    await rig.stop("valuations")


async def poll_panel(desk: Desk, marker: str, timeout: float = 30.0) -> str:
    return await poll(desk.panel, lambda page: marker in page, timeout, f"a panel with {marker}")


async def seed_day(rig: Rig, campaign_id: str, answered: int, dropped: int) -> None:
    """Today's earlier calls of a campaign (answered ones, some dropped): its drop budget."""
    campaign = rig.campaign(campaign_id)
    when = datetime.now(UTC) - timedelta(minutes=5)
    header = ["numero", "nome"]
    rows = [[f"02{9000000 + n}", f"Storico {n}"] for n in range(answered)]
    summary = await rig.add_contacts(campaign_id, header, rows, name="earlier.csv")
    async with rig.sessions.begin() as session:
        contacts = list(
            await session.scalars(select(Contact).where(Contact.list_id == summary.list_id))
        )
        for n, contact in enumerate(contacts):
            contact.status, contact.attempts = "done", 1
            session.add(
                Attempt(
                    campaign_id=campaign.id, client_id=campaign.client_id,
                    contact_id=contact.id, seq=1, number=contact.number,
                    linkedid=f"cmp-earlier-{campaign_id}-{n}", engine="earlier", mode="ratio",
                    placed_at=when, answered_at=when, ended_at=when,
                    dropped_at=when if n < dropped else None,
                    system_outcome="dropped" if n < dropped else "connected", data={},
                )
            )  # fmt: skip


async def test_ratio_with_machine_detection_drops_within_3_s_and_rests_the_number(
    rig: Rig,
) -> None:
    await rig.desk("op1")
    await seed_day(rig, "offers", answered=100, dropped=0)  # 3 drops allowed today
    header = ["numero", "nome"]
    rows = [[number(76, 1), "Lungo"], [number(71, 4), "Breve"], [number(75, 1), "Segreteria"],
            [number(77, 1), "Muto"], [number(71, 9), "Nel registro"]]  # fmt: skip
    summary = await rig.add_contacts("offers", header, rows)
    # The list is checked against the opposition register: one number is in it.
    found = await lists.apply_register(
        rig.sessions, rig.campaign("offers"), {e164(71, 9)}, date.today(), datetime.now(UTC),
        [summary.list_id],
    )  # fmt: skip
    assert found.found == 1
    async with AmiEvents(rig.stack) as events:
        await rig.start("offers")
        attempts = await rig.wait_attempts(
            "offers",
            lambda a: len([x for x in a if x.engine != "earlier" and x.ended_at]) == 4,
            timeout=90,
        )
        await rig.idle()
        dialled = {e.get("Exten") or e.get("CallerIDNum") for e in events.seen
                   if e.event == "DialBegin"}  # fmt: skip
    mine = {a.number: a for a in attempts if a.engine != "earlier"}
    # never the registered one
    assert set(mine) == {e164(76, 1), e164(71, 4), e164(75, 1), e164(77, 1)}
    # Two lines for one operator: both people answered; one talked, the other was dropped.
    people = [mine[e164(76, 1)], mine[e164(71, 4)]]
    assert sorted(a.system_outcome or "" for a in people) == ["connected", "dropped"], [
        (a.amd, a.detail, a.answered_at, a.ended_at) for a in people
    ]
    drop = next(a for a in people if a.system_outcome == "dropped")
    assert drop.answered_at is not None and drop.dropped_at is not None
    assert (drop.dropped_at - drop.answered_at).total_seconds() < 3.0
    assert (drop.amd or "").startswith("HUMAN")
    machine = mine[e164(75, 1)]
    assert machine.system_outcome == "machine" and (machine.amd or "").startswith("MACHINE")
    assert machine.connected_at is None
    unsure = mine[e164(77, 1)]  # not sure: an operator takes it
    assert (unsure.amd or "").startswith("NOTSURE") and unsure.system_outcome == "connected"
    contacts = {c.number: c for c in await rig.contacts("offers")}
    rested = contacts[drop.number]
    assert rested.next_at - drop.ended_at >= timedelta(days=5)  # type: ignore[operator]
    registered = contacts[e164(71, 9)]
    assert registered.status == "refused" and registered.refusal == "register"
    assert "register" in {r.reason for r in await rig.refusals("offers")}
    assert dialled  # the events were seen at all
    await rig.stop("offers")
