"""Campaigns through the real Asterisk: contacts behind the trunk that answer, are busy, never
answer or hang up; operators' phones that answer; an operator at the console."""

from __future__ import annotations

import asyncio
import re
import signal
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from campaign_rig import ROME, AmiEvents, Desk, Rig, console_page, e164, now, number
from sqlalchemy import select

from ivr.campaigns import lists, store
from ivr.campaigns.models import Appointment, Attempt, Contact
from ivr.campaigns.report import progress
from ivr.control import bearer
from ivr.harness.stack import poll

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]
HEADER = ["numero", "debitore", "importo", "scadenza", "fattura"]


async def test_a_progressive_reminder_campaign_runs_to_the_end(rig: Rig) -> None:
    desk = await rig.desk("op1")
    rows = [
        [number(76, 9), "Mario Rossi", "1.250,00", "15/10/2026", "F-101"],
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
         "promise_date": (now().astimezone(ROME).date() + timedelta(days=10)).isoformat(),
         "notes": "bonifico"},
    )  # fmt: skip
    assert status == 200 and 'id="saved"' in page, page[-800:]

    attempts = await rig.wait_attempts(
        "reminders", lambda a: len(a) == 4 and all(x.ended_at for x in a), timeout=90
    )
    await rig.idle()

    by_number = {a.number: a for a in attempts}
    assert {n: a.system_outcome for n, a in by_number.items()} == {
        e164(76, 9): "connected",
        e164(72, 1): "no-answer",
        e164(73, 1): "busy",
        e164(74, 1): "dropped",  # answered and gone before an operator: abandoned
    }
    assert all(a.seq == 1 and a.operator == "op1" and a.mode == "progressive" for a in attempts)
    # One call at a time for the one operator: each placed once the previous one was over
    # for the operator (not answered, or talked to the end).
    ordered = sorted(attempts, key=lambda a: a.placed_at)
    for before, after in zip(ordered, ordered[1:], strict=False):
        over = before.connected_at or before.ended_at
        assert over is not None and over <= after.placed_at
    mario = by_number[e164(76, 9)]
    assert mario.outcome == "promise" and mario.outcome_by == "op1"
    assert mario.promise_amount == Decimal("1250.00")
    assert mario.placed_at <= mario.answered_at <= mario.connected_at <= mario.ended_at
    assert mario.recording_path and mario.recording_path.endswith(f"/reminders/{mario.id}.wav")
    assert rig.stack.settings.host_path(__import__("pathlib").Path(mario.recording_path)).exists()
    assert by_number[e164(72, 1)].answered_at is None
    contacts = {c.number: c for c in await rig.contacts("reminders")}
    assert contacts[e164(76, 9)].status == "done" and contacts[e164(76, 9)].result == "promise"
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
    when = now() - timedelta(minutes=5)
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
                    connected_at=None if n < dropped else when,  # put to an operator at once
                    system_outcome="dropped" if n < dropped else "connected", data={},
                )
            )  # fmt: skip


async def test_ratio_with_machine_detection_and_the_register(rig: Rig) -> None:
    await rig.desk("op1")
    header = ["numero", "nome"]
    rows = [[number(71, 4), "Breve"], [number(75, 1), "Segreteria"], [number(77, 1), "Muto"],
            [number(71, 9), "Nel registro"]]  # fmt: skip
    summary = await rig.add_contacts("offers", header, rows)
    # The list is checked against the opposition register: one number is in it.
    found = await lists.apply_register(
        rig.sessions, rig.campaign("offers"), {e164(71, 9)}, now().astimezone(ROME).date(), now(),
        [summary.list_id],
    )  # fmt: skip
    assert found.found == 1
    await rig.start("offers")
    attempts = await rig.wait_attempts(
        "offers", lambda a: len(a) == 3 and all(x.ended_at for x in a), timeout=90
    )
    await rig.idle()
    mine = {a.number: a for a in attempts}
    # never the registered one
    assert set(mine) == {e164(71, 4), e164(75, 1), e164(77, 1)}
    person = mine[e164(71, 4)]
    assert (person.amd or "").startswith("HUMAN") and person.system_outcome == "connected"
    machine = mine[e164(75, 1)]  # a machine is a retry: nothing is left on it
    assert machine.system_outcome == "machine" and (machine.amd or "").startswith("MACHINE")
    assert machine.connected_at is None
    unsure = mine[e164(77, 1)]  # not sure: an operator takes it
    assert (unsure.amd or "").startswith("NOTSURE") and unsure.system_outcome == "connected"
    contacts = {c.number: c for c in await rig.contacts("offers")}
    assert contacts[e164(75, 1)].status == "exhausted"  # its one call (max 1) is used
    registered = contacts[e164(71, 9)]
    assert registered.status == "refused" and registered.refusal == "register"
    assert "register" in {r.reason for r in await rig.refusals("offers")}
    await rig.stop("offers")


async def test_an_answered_contact_with_no_operator_hears_the_message_within_3_s(
    rig: Rig,
) -> None:
    await rig.desk("op3")  # her phone takes 5 s to answer: longer than the contact may wait
    await rig.add_contacts("slowdesk", ["numero", "nome"], [[number(76, 5), "Paziente"]])
    await rig.start("slowdesk")
    [drop] = await rig.wait_attempts("slowdesk", lambda a: bool(a) and a[0].ended_at)
    await rig.idle()
    assert drop.system_outcome == "dropped" and drop.connected_at is None
    assert drop.answered_at is not None and drop.dropped_at is not None
    assert (drop.dropped_at - drop.answered_at).total_seconds() < 3.0
    [contact] = await rig.contacts("slowdesk")
    assert contact.status == "pending" and contact.last_outcome == "dropped"
    assert contact.next_at - drop.ended_at >= timedelta(days=5)  # type: ignore[operator]
    await rig.stop("slowdesk")


async def test_ratio_places_one_line_per_free_operator_once_the_drop_budget_is_spent(
    rig: Rig,
) -> None:
    await rig.desk("op1")
    await seed_day(rig, "capped", answered=100, dropped=3)  # 3 % already: no drop left
    rows = [[number(71, 5), "Primo"], [number(71, 6), "Secondo"]]
    await rig.add_contacts("capped", ["numero", "nome"], rows)
    await rig.start("capped")
    attempts = await rig.wait_attempts(
        "capped", lambda a: len([x for x in a if x.engine != "earlier" and x.ended_at]) == 2
    )
    await rig.idle()
    first, second = [a for a in attempts if a.engine != "earlier"]
    assert first.system_outcome == second.system_outcome == "connected"
    assert first.connected_at is not None and second.placed_at >= first.connected_at
    assert second.dropped_at is None and first.dropped_at is None
    states = await store.states(rig.sessions)
    assert states["capped"].ratio is not None and states["capped"].ratio < 2  # it adapted down
    await rig.stop("capped")


async def test_predictive_calls_for_the_operator_and_counts_the_day_in_metrics(rig: Rig) -> None:
    """The dialer's day, seen live: the supervisor's page in Chromium (its row of the campaign,
    whose name from the file is text, never markup) and /metrics move as the campaign works."""
    from playwright.async_api import expect

    await rig.desk("op1")
    await seed_day(rig, "predicted", answered=100, dropped=0)  # earlier today: all answered
    s = rig.stack.settings
    async with console_page(rig, "supervisor") as page:
        await page.goto(f"http://{s.bind}:{s.ports.http}/console/supervisor")
        row = page.locator('#per-campaign tr[data-campaign="predicted"]')
        # Before it starts: the seeded morning, and nothing of the operators' time yet.
        await expect(row.locator(".placed")).to_have_text("100")
        await expect(row.locator(".connected")).to_have_text("100")
        await expect(row.locator(".mode")).to_have_text("predittiva")
        await expect(row.locator(".drop-rate")).to_have_text("0.0 %")
        await expect(row.locator(".drop-rate")).to_have_attribute("data-level", "ok")
        await expect(row.locator(".share")).to_have_text("0.0 %")
        name = 'Offerte previste <script>document.title = "x"</script>'
        await expect(row.locator(".name")).to_have_text(name)  # text, not a script
        await expect(page.locator("#per-campaign script")).to_have_count(0)

        rows = [[number(71, n), f"Contatto {n}"] for n in (7, 8, 9)]
        await rig.add_contacts("predicted", ["numero", "nome"], rows)
        await rig.start("predicted")
        attempts = await rig.wait_attempts(
            "predicted",
            lambda a: len([x for x in a if x.engine != "earlier" and x.ended_at]) == 3,
        )
        await rig.idle()
        today = [a for a in attempts if a.engine != "earlier"]
        connected = [a for a in today if a.system_outcome == "connected"]
        dropped = [a for a in today if a.dropped_at is not None]
        assert connected and len(connected) + len(dropped) == 3
        answered = 100 + len([a for a in today if a.answered_at is not None])
        # The page refreshes itself every 5 s: the row follows the rows.
        await expect(row.locator(".placed")).to_have_text("103", timeout=30_000)
        await expect(row.locator(".connected")).to_have_text(str(100 + len(connected)))
        await expect(row.locator(".answered")).to_have_text(str(answered))
        await expect(row.locator(".dropped")).to_have_text(str(len(dropped)))
        await expect(row.locator(".ringing")).to_have_text("0")
        await expect(row.locator(".share")).not_to_have_text("0.0 %")
        await expect(page.locator("#occupancy-outbound")).not_to_have_text("0.0 %")
        assert float((await row.locator(".per-hour").inner_text()).replace(",", ".")) > 0

    async def metrics() -> str:
        async with aiohttp.ClientSession(headers=bearer(s.control_token)) as http:
            async with http.get(f"http://{s.bind}:{s.ports.http}/metrics") as response:
                return await response.text()

    # The day's figures in /metrics, as the rows have them (the earlier hundred included).
    lines = [
        'ivr_campaign_placed_today{campaign="predicted"} 103.0',
        f'ivr_campaign_connected_today{{campaign="predicted"}} {100 + len(connected)}.0',
        f'ivr_campaign_answered_today{{campaign="predicted"}} {answered}.0',
        f'ivr_campaign_dropped_today{{campaign="predicted"}} {len(dropped)}.0',
        'ivr_campaign_ringing{campaign="predicted"} 0.0',
        'ivr_campaign_drop_aim{campaign="predicted"} 0.03',
    ]  # the dialer reads the day afresh every few seconds: wait for the whole day's rows
    text = await poll(
        metrics, lambda t: all(line in t for line in lines), 30, "the day in /metrics"
    )
    share = re.search(r'^ivr_campaign_occupancy_today\{campaign="predicted"\} (\S+)$', text, re.M)
    outbound = re.search(r'^ivr_occupancy_part_today\{part="outbound"\} (\S+)$', text, re.M)
    assert share is not None and outbound is not None
    # its part of occupancy is some of the outbound part (all of it when it called alone)
    assert 0 < float(share.group(1)) <= float(outbound.group(1)) + 1e-9 <= 1 + 1e-9
    await rig.stop("predicted")


async def test_refused_contacts_are_logged_with_their_reason_and_never_dialled(rig: Rig) -> None:
    desk = await rig.desk("op1")
    campaign = rig.campaign("screened")
    header = ["numero", "nome"]
    rows = [
        [number(71, 10), "Non chiamare (centro)"],
        [number(71, 11), "Non chiamare (cliente)"],
        ["899123456", "Numero a pagamento"],
        [number(71, 12), "Nel registro"],
        [number(71, 13), "Chiamabile"],
    ]
    checked = await rig.add_contacts("screened", header, rows)
    stale = await rig.add_contacts("screened", header, [[number(71, 14), "Mai verificato"]],
                                   name="unchecked.csv")  # fmt: skip
    moment = now()
    await lists.add_do_not_call(rig.sessions, "*", [e164(71, 10)], "asked", "test", moment)
    await lists.add_do_not_call(rig.sessions, "acme", [e164(71, 11)], "asked", "test", moment)
    await lists.apply_register(
        rig.sessions, campaign, {e164(71, 12)}, moment.astimezone(ROME).date(), moment,
        [checked.list_id],
    )  # fmt: skip
    async with AmiEvents(rig.stack) as events:
        await rig.start("screened")
        [called] = await rig.wait_attempts("screened", lambda a: bool(a) and a[0].connected_at)
        # "Do not call me": on the center's list at once.
        status, _ = await desk.post(
            "/campaign/outcome", {"attempt": str(called.id), "outcome": "do-not-call"}
        )
        assert status == 200
        await rig.wait_attempts("screened", lambda a: all(x.ended_at for x in a))
        await rig.idle()
        trunk_calls = [
            e
            for e in events.seen
            if e.event == "Newchannel" and e.get("Channel", "").startswith("PJSIP/trunk")
        ]
    assert called.number == e164(71, 13)
    assert len(await rig.attempts("screened")) == 1 and len(trunk_calls) == 1
    contacts = {c.number: c for c in await rig.contacts("screened")}
    assert {n: (c.status, c.refusal) for n, c in contacts.items() if c.status == "refused"} == {
        e164(71, 10): ("refused", "do-not-call"),
        e164(71, 11): ("refused", "client-do-not-call"),
        "+39899123456": ("refused", "dial-policy"),
        e164(71, 12): ("refused", "register"),
    }
    assert contacts[e164(71, 14)].status == "pending"  # its list was never checked
    reasons = {r.reason: r.detail for r in await rig.refusals("screened")}
    assert set(reasons) == {"do-not-call", "client-do-not-call", "dial-policy", "register",
                            "register-stale"}  # fmt: skip
    assert "premium" in reasons["dial-policy"]
    assert f"#{stale.list_id}" in reasons["register-stale"]
    assert await lists.on_do_not_call(rig.sessions, e164(71, 13), "acme") == {"*"}
    await rig.stop("screened")


async def test_an_inbound_caller_gets_the_next_free_operator_before_any_outbound_call(
    rig: Rig,
) -> None:
    await rig.desk("op1")
    await rig.desk("op2")
    rows = [[number(76, k), f"Lungo {k}"] for k in (2, 3)]
    # Numbers no other test calls: a drop in another test's campaign rests a number 5 days.
    rows += [[number(71, k), f"Dopo {k}"] for k in (17, 18)]
    await rig.add_contacts("blended", ["numero", "nome"], rows)
    async with AmiEvents(rig.stack) as events:
        await rig.start("blended")
        await rig.wait_attempts("blended", lambda a: len([x for x in a if x.connected_at]) == 2)
        # Both operators talk; a caller of the desk arrives and waits for one of them.
        inbound = asyncio.create_task(
            rig.stack.call("0611000001", caller_num="0612000021", hold_ms=1500, timeout=90)
        )
        joined = await events.wait(
            lambda e: e.event == "QueueCallerJoin" and e.get("CallerIDNum") == "0612000021"
        )
        connected = await events.wait(
            lambda e: e.event == "AgentConnect" and e.get("CallerIDNum") == "0612000021",
            timeout=60,
        )
        assert (await inbound).ok
        attempts = await rig.wait_attempts(
            "blended", lambda a: len(a) == 4 and all(x.ended_at for x in a), timeout=90
        )
        await rig.idle()
    waited_from = datetime.fromtimestamp(float(joined["Timestamp"]), UTC)
    served_at = datetime.fromtimestamp(float(connected["Timestamp"]), UTC)
    placed = sorted(a.placed_at for a in attempts)
    # No outbound call was placed while the caller waited; the campaign went on after.
    assert not [t for t in placed if waited_from <= t <= served_at], (
        waited_from,
        served_at,
        placed,
    )
    assert placed[-1] > served_at
    assert all(a.system_outcome == "connected" for a in attempts)
    await rig.stop("blended")


async def test_in_a_real_browser_the_preview_card_pops_and_the_operator_calls(rig: Rig) -> None:
    from playwright.async_api import expect

    await rig.add_contacts("browsed", ["numero", "nome"], [[number(76, 7), "Giorgio Blu"]])
    async with console_page(rig, "op1") as page:
        await expect(page.locator("#state")).to_be_visible()
        await page.click("#go-available")  # (a login during a wrap-up keeps the pause)
        await expect(page.locator("body")).to_have_attribute("data-live", "yes")
        await rig.start("browsed")
        # The card pops by itself (server-sent events), with the script filled in.
        await expect(page.locator("#call")).to_be_visible(timeout=30_000)
        await expect(page.locator("#contact-name")).to_have_text("Giorgio Blu")
        await expect(page.locator("#script")).to_contain_text("Buongiorno Giorgio Blu")
        await page.click("#call")
        await expect(page.locator("#outcome-interested")).to_be_visible(timeout=30_000)
        await rig.wait_attempts("browsed", lambda a: bool(a) and a[0].connected_at)
        await page.check("#outcome-interested")
        await page.fill("#notes", "Richiamare per il preventivo")
        await page.click("#save")
        await expect(page.locator("#saved")).to_be_visible()
    [attempt] = await rig.wait_attempts("browsed", lambda a: bool(a) and a[0].ended_at)
    await rig.idle()
    assert attempt.outcome == "interested" and attempt.notes == "Richiamare per il preventivo"
    assert attempt.mode == "preview" and attempt.operator == "op1"
    await rig.stop("browsed")


async def test_the_supervisor_sees_each_campaign_live(rig: Rig) -> None:
    supervisor = Desk(rig.stack, "supervisor")
    try:
        status, _ = await supervisor.sign_in()
        assert status == 200
        async with supervisor.http.get(
            f"{supervisor.base}/campaigns", headers={"Accept-Language": "it"}
        ) as response:
            assert response.status == 200
            page = await response.text()
    finally:
        await supervisor.close()
    sections = dict(re.findall(r'<section class="campaign" data-campaign="([^"]+)">(.*?)</section>',
                               page, re.S))  # fmt: skip
    reminders = sections["reminders"]
    assert '<td data-field="left">0 / 4</td>' in reminders
    assert '<progress max="4" value="4"' in reminders
    assert "Contatti rimasti" in reminders  # Italian, as the browser asked
    slow = sections["slowdesk"]
    assert 'data-field="drop-rate">100.0 % (1 / 1)' in slow, slow
    assert "<td>promise</td><td>1</td>" in reminders and "promise" not in slow


async def test_a_call_back_to_the_campaign_number_hears_who_called_and_reaches_an_operator(
    rig: Rig,
) -> None:
    stack = rig.stack
    result = await stack.call("0611000090", caller_num=number(71, 1), hold_ms=1500, digits="1",
                              dtmf_delay_ms=1500, timeout=60)  # fmt: skip
    assert result.ok, result.output[-1500:]
    record = await stack.wait_record(
        lambda r: r.caller_number == number(71, 1) and r.ended_at is not None
    )
    assert record.route == "campaign-callback"
    assert record.client_id == "acme" and record.client_name == "Acme Servizi"
    assert record.outcome == "answered" and record.operator == "op1"
    # No key: a goodbye, nobody rung.
    result = await stack.call("0611000090", caller_num="0612000031", hold_ms=15000, timeout=60)
    record = await stack.wait_record(
        lambda r: r.caller_number == "0612000031" and r.ended_at is not None
    )
    assert record.route == "campaign-callback" and record.operator is None


def saturday_evening() -> str:
    """A Saturday at 19:01 in Rome that is no holiday, as the engine's clock setting writes
    it (not "next Saturday": that falls on Santo Stefano some years)."""
    return datetime(2027, 1, 16, 19, 1, tzinfo=ZoneInfo("Europe/Rome")).isoformat()


async def test_saturday_at_19_01_places_nothing_and_says_why(rig: Rig) -> None:
    stack = rig.stack
    await stack.stop_engine()
    stack.extra_env["IVR_CLOCK_START"] = saturday_evening()
    try:
        await stack.start_engine()
        await rig.new_desks()
        await rig.desk("op1")
        await rig.desk("op2")
        await rig.add_contacts("weekdays", ["numero", "nome"], [[number(71, 15), "Sabato"]])
        await rig.start("weekdays")
        refusals = await poll(lambda: rig.refusals("weekdays"), bool, 30, "the window's refusal")
    finally:
        del stack.extra_env["IVR_CLOCK_START"]
    [closed] = refusals
    assert closed.reason == "window" and closed.contact_id is None
    assert "Sat" in closed.detail and "19:01" in closed.detail and "Mon" in closed.detail
    assert "09:00" in closed.detail
    assert await rig.attempts("weekdays") == []
    await rig.stop("weekdays")
    await stack.stop_engine()
    await stack.start_engine()
    await rig.new_desks()


async def test_killed_mid_call_the_engine_resumes_and_dials_nobody_twice(rig: Rig) -> None:
    stack = rig.stack
    await rig.desk("op1")
    rows = [[number(72, 2), "Squilla", "10", "01/10/2026", "R-1"],
            [number(71, 16), "Risponde", "20", "01/10/2026", "R-2"]]  # fmt: skip
    await rig.add_contacts("resume", HEADER, rows)
    async with AmiEvents(stack) as events:
        await rig.start("resume")
        await rig.wait_attempts("resume", lambda a: len(a) == 1)
        await events.wait(
            lambda e: e.event == "Newchannel" and e.get("Channel", "").startswith("PJSIP/trunk")
        )
        # The first contact's phone rings: the engine dies without a goodbye.
        await stack.stop_engine(signal.SIGKILL)
        await stack.start_engine()
        await rig.new_desks()
        await rig.desk("op1")  # the operator logs in again to the new engine
        attempts = await rig.wait_attempts(
            "resume", lambda a: len(a) == 2 and all(x.ended_at for x in a), timeout=90
        )
        await rig.idle()
        trunk = [e for e in events.seen if e.event == "Newchannel"
                 and e.get("Channel", "").startswith("PJSIP/trunk")]  # fmt: skip
    first, second = attempts
    assert first.number == e164(72, 2) and second.number == e164(71, 16)
    assert first.engine != second.engine  # placed by the engine that died, then the new one
    assert first.system_outcome == "no-answer"  # completed from the events by the new engine
    assert second.system_outcome == "connected"
    assert [e.get("Uniqueid") for e in trunk] == [first.linkedid, second.linkedid]
    contacts = await rig.contacts("resume")
    assert [c.attempts for c in contacts] == [1, 1]
    await rig.stop("resume")


async def test_a_browser_operator_takes_preview_and_progressive_calls_in_the_page(
    rig: Rig,
) -> None:
    """The operator's phone is the console page (WebRTC, fake audio devices), the desk phone
    unregistered: a preview call and a progressive one ring in the page, which answers by
    itself (the contact is on the line already), and the card shows the contact."""
    from playwright.async_api import Page, expect

    desk_phone = next(p for p in rig.stack.phones if p.operator == "op1")
    await desk_phone.register(expires=0)  # only the page rings
    media = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
             "--autoplay-policy=no-user-gesture-required"]  # fmt: skip

    async def heard(page: Page) -> None:
        """The page's call carries the operator's voice (the contact's hello is over by the
        time the operator is put through; the page answered within the legal silence)."""
        await poll(
            lambda: page.evaluate("window.ivrPhone.stats()"),
            lambda found: bool(found) and found["sent"] > 1000,
            20,
            "audio in the page",
        )

    await rig.add_contacts("browsed", ["numero", "nome"], [[number(76, 17), "Elena Blu"]])
    try:
        async with console_page(rig, "op1", *media) as page:
            await expect(page.locator("#phone-on")).to_be_checked()
            await page.click("#go-available")
            await expect(page.locator("body")).to_have_attribute("data-live", "yes")
            await expect(page.locator("#phone-status")).to_have_text(
                "telefono pronto", timeout=30_000
            )

            # Preview: the card first, the operator presses call, the page rings.
            await rig.start("browsed")
            await expect(page.locator("#call")).to_be_visible(timeout=30_000)
            await expect(page.locator("#contact-name")).to_have_text("Elena Blu")
            await page.click("#call")
            # The page answers by itself: the contact is already on the line.
            await expect(page.locator("#phone-hangup")).to_be_visible(timeout=30_000)
            await rig.wait_attempts(
                "browsed", lambda a: any(x.connected_at and x.number == e164(76, 17) for x in a)
            )
            await heard(page)
            await page.check("#outcome-interested")
            await page.fill("#notes", "Chiamata dalla pagina")
            await page.click("#save")
            await expect(page.locator("#saved")).to_be_visible(timeout=20_000)
            await rig.stop("browsed")

            # Progressive: the contact answers first, then the page rings with the card.
            reminder = [number(76, 18), "Carla Gialli", "50", "15/10/2026", "F-201"]
            await rig.add_contacts("reminders", HEADER, [reminder])
            await expect(page.locator("#phone-status")).to_have_text(
                "telefono pronto", timeout=30_000
            )
            await expect(page.locator("#state")).to_have_attribute(
                "data-state", "available", timeout=30_000
            )
            await rig.start("reminders")
            await expect(page.locator("#phone-hangup")).to_be_visible(timeout=60_000)
            await heard(page)  # (the contact stays 8 s from answering)
            await expect(page.locator("#debtor")).to_have_text("Carla Gialli", timeout=20_000)
            await rig.wait_attempts(
                "reminders",
                lambda a: any(x.connected_at and x.number == e164(76, 18) for x in a),
            )
            await page.check("#outcome-paid")
            await page.click("#save")
            await expect(page.locator("#saved")).to_be_visible(timeout=20_000)
    finally:
        await desk_phone.register()
    for campaign_id, contact in (("browsed", e164(76, 17)), ("reminders", e164(76, 18))):
        attempts = await rig.wait_attempts(
            campaign_id, lambda a, c=contact: any(x.number == c and x.ended_at for x in a)
        )
        [mine] = [a for a in attempts if a.number == contact]
        assert mine.operator == "op1" and mine.connected_at is not None
        assert mine.outcome == ("interested" if campaign_id == "browsed" else "paid")
        assert mine.mode == ("preview" if campaign_id == "browsed" else "progressive")
    await rig.stop("reminders")
    await rig.idle()
