"""Campaigns through the real Asterisk: contacts behind the trunk that answer, are busy, never
answer or hang up; operators' phones that answer; an operator at the console."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from conftest import Rig, e164, number

from ivr.campaigns.report import progress

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
