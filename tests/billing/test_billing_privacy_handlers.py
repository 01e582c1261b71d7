"""Personal data of the client area, the campaigns and billing: `ivr erase --number N`
removes it everywhere (rows made anonymous where they are also accounts, recordings deleted,
do-not-call lists keeping a hash that still refuses the number), and the daily purge removes
what is past each client's retention."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from billing_world import MARCH, World, rome
from sqlalchemy import func, select

from ivr.area.models import AreaCall, MessageState, Notice
from ivr.billing import disputes, draw, payments
from ivr.billing.models import AuditEntry, Contest, Line, Statement, Verification
from ivr.campaigns import lists, store
from ivr.campaigns.models import Appointment, Attempt, Contact, DoNotCall
from ivr.dialpolicy import DialPolicy
from ivr.privacy.run import erase, purge
from ivr.records import outbox
from ivr.records.models import Call
from ivr.routing.model import Retention

NUMBER = "+390612399999"


def recording(world: World, path: str | None) -> Path:
    assert path is not None
    host = world.settings.host_path(Path(path))
    host.parent.mkdir(parents=True, exist_ok=True)
    host.write_bytes(b"RIFF")
    return host


async def count(world: World, *where: object, of: object = None) -> int:
    async with world.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(of).where(*where)) or 0)


async def a_message(world: World, linkedid: str, number: str, days_ago: int) -> None:
    at = world.now - timedelta(days=days_ago)
    async with world.sessions.begin() as session:
        session.add(Call(linkedid=linkedid, client_id="acme", caller_number=number,
                         caller_name="Maria Rossi", arrived_at=at, outcome="message-left",
                         message_path=None, updated_at=at))  # fmt: skip
        session.add(MessageState(client_id="acme", linkedid=linkedid, read_at=at, read_by="a",
                                 note="Maria Rossi called about her boiler"))  # fmt: skip
        session.add(Notice(user_id=1, linkedid=linkedid, at=at, sent_at=at))
        await outbox.add_message(session, linkedid, "acme", False, at)


async def test_erase_reaches_the_area_the_campaigns_and_billing(world: World) -> None:
    await a_message(world, "m1", "0612399999", days_ago=1)
    await a_message(world, "m2", "0612000001", days_ago=1)  # someone else's
    appointment = await world.appointment(rome(2), company="Bar Mario")
    async with world.sessions.begin() as session:
        booked = await session.get(Appointment, appointment)
        assert booked is not None
        contact = await session.get(Contact, booked.contact_id)
        assert contact is not None
        contact.number = NUMBER  # the erased person's business
        attempt = await session.get(Attempt, booked.attempt_id)
        assert attempt is not None
        attempt.number, attempt.notes = NUMBER, "Mario wants a call after 18:00"
        booking_file = recording(world, attempt.recording_path)
    promise = await world.promise("300", rome(3), number=NUMBER)
    await payments.confirm_one(
        world.sessions,
        world.campaigns,
        "acme",
        promise,
        Decimal(300),
        rome(10).date(),
        "admin",
        "area",
        world.now,
        "Europe/Rome",
    )
    made, _ = await disputes.file(world.sessions, world.campaigns, "acme", "Europe/Rome",
                                  f"A{appointment}", "other", "Mario Bianchi is not our client",
                                  "admin", world.now)  # fmt: skip
    assert made is not None
    await lists.add_do_not_call(world.sessions, "*", [NUMBER], "asked", "call 1", world.now)
    march = await world.issue(MARCH)
    assert march.total == Decimal("80.00")  # 50 for the appointment, 10 % of 300

    removed = await erase(world.sessions, world.settings, "06 12399999")

    assert removed.counts["area notes and read states"] == 1
    # the outbox held the message's notice and its dispatch (the client's delivery rules)
    assert removed.counts["area notices"] == 1 and removed.counts["outbox rows"] == 2
    assert removed.counts["campaign contacts"] == 3  # the appointment's, the promise's, ...
    assert removed.counts["do-not-call entries kept as a hash"] == 1
    assert not booking_file.exists() and str(booking_file) in removed.files
    assert await count(world, MessageState.linkedid == "m1", of=MessageState) == 0
    assert await count(world, MessageState.linkedid == "m2", of=MessageState) == 1
    async with world.sessions() as session:
        area = list(await session.scalars(select(Call.linkedid).where(Call.linkedid == "m1")))
        searched = " ".join(await session.scalars(select(AreaCall.body)))
        contacts = list(await session.scalars(select(Contact).where(Contact.number == NUMBER)))
        attempts = list(await session.scalars(select(Attempt).where(Attempt.number == NUMBER)))
        erased = await session.get(Attempt, promise)
        dnc = list(await session.scalars(select(DoNotCall)))
        contest = await session.get(Contest, made.id)
        lines = list(await session.scalars(select(Line)))
        shown = await session.scalar(select(Statement))
        logged = list(await session.scalars(select(AuditEntry).where(
            AuditEntry.subject == f"contest {made.id}")))  # fmt: skip
    assert area == [] and contacts == [] and attempts == []
    assert "Maria Rossi" in searched and "0612399999" not in searched  # m2's row only
    assert erased is not None and erased.number == "erased" and erased.notes is None
    assert erased.promise_amount == Decimal("300.00")  # what was billed stays
    assert [d.number.startswith("#") for d in dnc] == [True] and NUMBER not in str(dnc[0].number)
    assert contest is not None and contest.note == "" and contest.status == "open"
    assert all(line.label == "" for line in lines) and sum(x.price for x in lines) == 80
    assert shown is not None and "Bar Mario" not in str(shown.data)
    assert logged and all(e.before == {} and e.after == {} and e.erased_at for e in logged)
    view = await world.statement(MARCH)
    assert view.total == Decimal("80.00")  # an issued statement still adds up

    # The number comes back in a new list: the hashed entry still refuses it.
    assert await lists.on_do_not_call(world.sessions, NUMBER, "acme") == {"*"}
    checking = world.campaign("visits")
    fresh = await world.contact("visits", number=NUMBER, status="pending", attempts=0)
    got = await store.claim(
        world.sessions,
        checking,
        engine="e",
        now=world.now,
        operators=["op1"],
        policy=DialPolicy(),
        register_max_days=15,
    )
    assert got == []
    async with world.sessions() as session:
        refused = await session.get(Contact, fresh)
    assert refused is not None and (refused.status, refused.refusal) == ("refused", "do-not-call")


async def test_the_purge_keeps_each_client_s_retention(world: World) -> None:
    await a_message(world, "old", "0612000001", days_ago=40)
    await a_message(world, "new", "0612000002", days_ago=2)
    old = await world.appointment(rome(2))  # a month before "now"
    appointments = [old] + [await world.appointment(rome(d)) for d in (3, 4)]
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
    assert sorted(made.draw.drawn) == appointments
    async with world.sessions.begin() as session:
        for check in await session.scalars(select(Verification)):
            check.spoke_with, check.notes = "Anna Bianchi", "nice lady"
            check.verified_at, check.status, check.happened = rome(6), "done", True
        for attempt in await session.scalars(select(Attempt)):
            attempt.notes = "call her after lunch"
            recording(world, attempt.recording_path)
    await world.issue(MARCH)
    world.now = rome(5, 12, month=6)  # two months later
    rules = world.rules
    from dataclasses import replace

    rules = replace(rules, retention=Retention(recordings=30, messages=30, numbers=365))
    removed = await purge(world.sessions, rules, world.settings, world.now)

    assert removed.counts["campaign recordings"] == 3 and removed.counts["files"] == 3
    assert removed.counts["operators' notes on campaign calls"] == 3
    assert removed.counts["verification answers"] == 3
    assert removed.counts["area notes"] == 2 and removed.counts["area notices"] == 2
    assert "campaign contacts" not in removed.counts  # numbers are kept a year
    async with world.sessions() as session:
        notes = list(await session.scalars(select(MessageState.note)))
        told = list(await session.scalars(select(Verification.spoke_with)))
        numbers = list(await session.scalars(select(Attempt.number)))
    assert notes == [None, None] and told == [None] * 3
    assert all(n.startswith("+39") for n in numbers)
    # A year on, the numbers go too; the statement keeps its figures, not the names.
    world.now = rome(5, 12, month=6) + timedelta(days=400)
    removed = await purge(world.sessions, rules, world.settings, world.now)
    assert removed.counts["numbers on campaign calls"] == 3
    assert removed.counts["campaign contacts"] == 3
    assert removed.counts["names on statement lines"] == 3
    view = await world.statement(MARCH)
    assert view.total == Decimal("170.00") and {i.label for s in view.sections
                                               for i in s.items} == {""}  # fmt: skip
