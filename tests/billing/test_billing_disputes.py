"""Disputes: a result is contested within its contract's period with a reason and a note;
the verification call's answer (through the operator's outcome form) shows a contest wrong
or right, and one shown wrong questions the client's other open contests; the center's
decision credits or keeps, with who and when; the report shows the evidence; every change is
in the audit log, which the database keeps append-only (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from billing_world import MARCH, World, make_world, rome
from pg_server import new_database
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from ivr.billing import audit, disputes, draw
from ivr.billing.models import Contest, Verification
from ivr.campaigns import results, store
from ivr.campaigns.models import Attempt, Contact
from ivr.campaigns.outcomes import read_outcome
from ivr.dialpolicy import DialPolicy

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates


async def contest(world: World, appointment: int, reason: str = "did-not-happen",
                  note: str = "") -> tuple[Contest | None, str | None]:  # fmt: skip
    return await disputes.file(
        world.sessions,
        world.campaigns,
        "acme",
        "Europe/Rome",
        f"A{appointment}",
        reason,
        note,
        "admin@acme",
        world.now,
    )


async def test_a_result_is_contested_within_its_period_once_with_a_reason(world: World) -> None:
    a1, a2, a3 = [await world.appointment(rome(d)) for d in (2, 3, 4)]
    future = await world.appointment(rome(20, month=4))
    other = await world.appointment(rome(2), campaign_id="bravo-visits")
    assert (await contest(world, a1, "because"))[1] == "Choose the reason."
    assert (await contest(world, a1, note="x" * 2001))[1] == "The note is too long."
    assert (await contest(world, future))[1] == "Only a billed result can be contested."
    assert (await contest(world, other))[1] == "There is no such result."  # not acme's
    made, problem = await contest(world, a1, note="nessuno è venuto")
    assert problem is None and made is not None and made.status == "open"
    assert (await contest(world, a1))[1] == "This result is already contested."
    await world.issue(MARCH)  # on April 5th: the contract allows 10 days after it
    world.now = rome(15, 11, month=4)
    assert (await contest(world, a2, "wrong-person"))[1] is None
    world.now = rome(15, 13, month=4)
    assert (await contest(world, a3))[1] == "The period to contest this statement is over."
    async with world.sessions() as session:
        log = await audit.entries(session, "acme")
        checks = list(await session.scalars(select(Verification)))
    assert [(e.subject, e.action) for e in log][-2:] == [
        ("statement 2027-03", "issued"), (f"contest {made.id + 1}", "filed")
    ]  # fmt: skip
    assert log[0].after["note"] == "nessuno è venuto"
    assert sorted(c.appointment_id for c in checks) == [a1, a2]  # contested: verified
    assert all(c.contested and not c.sampled for c in checks)


async def answer(world: World, appointment: int, operator: str, **form: str) -> str | None:
    """The verifying operator's call and outcome form, as the console saves them."""
    checking = world.campaign("visits-verify")
    async with world.sessions() as session:
        check = await session.scalar(
            select(Verification).where(Verification.appointment_id == appointment)
        )
        assert check is not None
        contact_id = check.contact_id
        open_call = await session.scalar(
            select(Attempt.id).where(Attempt.contact_id == contact_id, Attempt.outcome.is_(None))
        )
    if open_call is None:
        async with world.sessions.begin() as session:  # only this one is due now
            for row in await session.scalars(select(Contact).where(
                    Contact.campaign_id == checking.id)):  # fmt: skip
                row.next_at = world.now if row.id == contact_id else rome(1, month=12)
        [claimed] = await store.claim(world.sessions, checking, engine="e", now=world.now,
                                      operators=[operator], policy=DialPolicy(),
                                      register_max_days=15)  # fmt: skip
        assert claimed.attempt is not None and claimed.contact.id == contact_id
        await store.note(world.sessions, claimed.attempt.linkedid, connected_at=world.now)
        open_call = claimed.attempt.id
    parsed = read_outcome(checking, {"attempt": str(open_call), **form}, world.now, "en")
    if not parsed.ok:
        return "; ".join(f"{k}: {v}" for k, v in sorted(parsed.errors.items()))
    return await results.save_outcome(world.sessions, checking, parsed, operator, world.now)


async def test_a_verification_shows_a_contest_wrong_and_questions_the_others(
    world: World,
) -> None:
    a1, a2, a3 = [await world.appointment(rome(d), operator="op1") for d in (2, 3, 4)]
    c1, _ = await contest(world, a1, note="never came")
    c2, _ = await contest(world, a2, "wrong-person")
    c3, _ = await contest(world, a3)
    assert c1 and c2 and c3
    # The form is checked like any outcome.
    bad = await answer(world, a1, "op2", outcome="verified", happened="yes",
                       visited_at="2027-05-01T10:00", visit_outcome="great")  # fmt: skip
    assert bad == ("spoke_with: Say with whom you spoke.; visit_outcome: Choose how the visit"
                   " went.; visited_at: The visit is a day and time in the past.")  # fmt: skip
    assert await answer(world, a1, "op2", outcome="verified", happened="yes",
                        visited_at="2027-03-02T10:05", spoke_with="Mario, the owner",
                        visit_outcome="positive", notes="very happy") is None  # fmt: skip
    async with world.sessions() as session:
        got = {c.id: c for c in await session.scalars(select(Contest))}
        check = await session.scalar(select(Verification).where(Verification.appointment_id == a1))
    assert check is not None and check.happened is True and check.verified_by == "op2"
    assert check.spoke_with == "Mario, the owner" and check.visit_outcome == "positive"
    assert check.visited_at == rome(2, 10).replace(minute=5)
    assert got[c1.id].verdict == "shown-wrong" and got[c1.id].questioned_by is None
    assert got[c2.id].questioned_by == c1.id and got[c3.id].questioned_by == c1.id
    # The other way round: the visit did not happen.
    assert await answer(world, a3, "op3", outcome="verified", happened="no",
                        spoke_with="Luisa") is None  # fmt: skip
    async with world.sessions() as session:
        assert (await session.get(Contest, c3.id)).verdict == "shown-right"  # type: ignore[union-attr]
    view = await world.statement(MARCH)
    assert [i.status for s in view.sections if s.campaign_id == "visits" for i in s.items] == [
        "billable", "billable", "not-held"
    ]  # fmt: skip

    # The center decides: who and when, once.
    assert await disputes.decide(world.sessions, "acme", c1.id, "reject", "boss", "confirmed",
                                 world.now) is None  # fmt: skip
    assert "decided already" in (await disputes.decide(world.sessions, "acme", c1.id, "credit",
                                                       "boss", "", world.now) or "")  # fmt: skip
    assert "no contest" in (await disputes.decide(world.sessions, "bravo", c2.id, "credit",
                                                  "boss", "", world.now) or "")  # fmt: skip
    assert await disputes.decide(world.sessions, "acme", c2.id, "credit", "boss", "",
                                 world.now) is None  # fmt: skip
    report = await disputes.report(world.sessions, world.campaigns, "acme", "Europe/Rome",
                                   world.now, MARCH)  # fmt: skip
    assert [(e.contest.id, e.contest.status) for e in report] == [
        (c1.id, "rejected"), (c2.id, "credited"), (c3.id, "open")
    ]  # fmt: skip
    first = report[0]
    assert first.booking is not None and first.booking.recording_path
    assert first.verification_call is not None and first.verification_call.operator == "op2"
    assert [e.action for e in first.log] == [
        "filed", "verification call", "shown-wrong", "decided: reject", "stays billed"
    ]  # fmt: skip
    printed = disputes.text(report, "Europe/Rome")
    assert "Shown wrong: the verification call found that the visit took place." in printed
    assert f"questioned: contest {c1.id} of this client was shown wrong" in printed
    assert "decided: rejected by boss" in printed and "recording: /srv/ivr/" in printed


async def test_a_drawn_and_verified_appointment_contested_later_is_judged_at_once(
    world: World,
) -> None:
    booked = [await world.appointment(rome(d), operator="op1") for d in (2, 3, 4)]
    made = await draw.draw_month(
        world.sessions,
        world.campaigns,
        "acme",
        MARCH,
        "Europe/Rome",
        share=0.04,
        minimum=3,
        grace_days=2,
        who="e",
        now=world.now,
    )
    assert sorted(made.draw.drawn) == booked  # three: all of them
    assert await answer(world, booked[0], "op2", outcome="verified", happened="yes",
                        visited_at="2027-03-02T10:00", spoke_with="Anna",
                        visit_outcome="undecided") is None  # fmt: skip
    made_contest, _ = await contest(world, booked[0])
    assert made_contest is not None
    async with world.sessions() as session:
        assert (await session.get(Contest, made_contest.id)).verdict == "shown-wrong"  # type: ignore[union-attr]


async def test_the_audit_log_is_append_only_on_postgresql(
    postgres_server: str, tmp_path: Path
) -> None:
    world = await make_world(tmp_path, await new_database(postgres_server))
    try:
        a1 = await world.appointment(rome(2))
        made, _ = await contest(world, a1)
        assert made is not None
        await world.issue(MARCH)
        async with world.engine.begin() as connection:
            for sql in (
                "UPDATE billing_lines SET price = 0",
                "DELETE FROM billing_lines",
                "UPDATE billing_statements SET total = 1",
                "DELETE FROM billing_audit",
                "UPDATE billing_audit SET who = 'x'",
            ):
                with pytest.raises(DBAPIError, match="append-only"):
                    async with connection.begin_nested():
                        await connection.execute(text(sql))
            # only an erasure: before and after emptied, once
            await connection.execute(
                text("UPDATE billing_audit SET before = '{}', after = '{}', erased_at = now()")
            )
            with pytest.raises(DBAPIError, match="append-only"):
                async with connection.begin_nested():
                    await connection.execute(text("UPDATE billing_audit SET erased_at = NULL"))
        again = await world.statement(MARCH)
        assert again.issued and again.total == 50
    finally:
        await world.engine.dispose()
