"""The campaigns of the area's test world: Acme's appointments (three held in November, one
still to come) and a promise to pay, Bravo's appointment, each with its booking call and a
recording, as the dialer and the console leave them. Bravo's words carry B_MARK."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from area_world import B_MARK, NOW, World

from ivr.campaigns.models import Appointment, Attempt, Contact, ContactList, DoNotCall

# Numbers each asked not to be called: the client's area lists its own list only.
A_DNC, B_DNC, CENTER_DNC = "+390611198001", "+390611198002", "+390611198003"


def _wav(world: World, campaign: str, name: str) -> str:
    settings = world.services.settings
    path = settings.run_dir / "recordings" / campaign / f"{name}.wav"
    host = settings.host_path(path)
    host.parent.mkdir(parents=True, exist_ok=True)
    host.write_bytes(b"RIFF" + b"\x00" * 40)
    return str(path)


async def _call(
    world: World, session: Any, lists: dict[str, int], campaign: str, client: str, n: int,
    outcome: str, **contact: Any,
) -> tuple[Contact, Attempt]:  # fmt: skip
    if campaign not in lists:
        listed = ContactList(campaign_id=campaign, client_id=client, name="l.csv",
                             imported_at=NOW - timedelta(days=60), rows=1, added=1, merged=0,
                             bad=0, register_checked_on=None)  # fmt: skip
        session.add(listed)
        await session.flush()
        lists[campaign] = listed.id
    row = Contact(campaign_id=campaign, list_id=lists[campaign], number=f"+39061110{n:04d}",
                  name=contact.pop("name", f"Contatto {n}"), extra={}, status="done",
                  attempts=1, next_at=NOW, in_register=False, **contact)  # fmt: skip
    session.add(row)
    await session.flush()
    at = NOW - timedelta(days=30 - n)
    call = Attempt(
        campaign_id=campaign, client_id=client, contact_id=row.id, seq=1, number=row.number,
        linkedid=f"cmp-area-{n}", engine="e", mode="progressive", operator="op1", placed_at=at,
        answered_at=at, connected_at=at, ended_at=at + timedelta(minutes=2), outcome=outcome,
        outcome_by="op1", outcome_at=at + timedelta(minutes=2), data={},
        recording_path=_wav(world, campaign, f"call-{n}"),
        notes=f"{B_MARK} notes" if client == "bravo" else "Richiamare dopo le 18",
    )  # fmt: skip
    session.add(call)
    await session.flush()
    return row, call


async def seed_campaigns(world: World) -> None:
    lists: dict[str, int] = {}
    async with world.services.sessions.begin() as session:
        for n, (day, campaign, client) in enumerate(
            ((10, "acme-visits", "acme"), (11, "acme-visits", "acme"),
             (12, "acme-visits", "acme"), (40, "acme-visits", "acme"),
             (10, "bravo-visits", "bravo")), start=1,
        ):  # fmt: skip
            company = f"{B_MARK} Studio" if client == "bravo" else f"Bar Acme {n}"
            contact, call = await _call(world, session, lists, campaign, client, n, "appointment",
                                        company=company, contact_person="Titolare")  # fmt: skip
            starts = NOW.replace(day=1, hour=9) + timedelta(days=day - 1)
            booked = Appointment(
                client_id=client, campaign_id=campaign, attempt_id=call.id, contact_id=contact.id,
                salesperson="marco" if client == "bravo" else "giulia", starts_at=starts,
                ends_at=starts + timedelta(hours=1), address=f"Via {company}", booked_by="op1",
                booked_at=call.outcome_at,
            )  # fmt: skip
            session.add(booked)
            await session.flush()
            call.appointment_id = booked.id
            prefix = "b" if client == "bravo" else "a"
            world.ids.setdefault(f"{prefix}_appointments", []).append(booked.id)
            world.ids.setdefault(f"{prefix}_attempts", []).append(call.id)
        _, promise = await _call(world, session, lists, "acme-debts", "acme", 9, "promise",
                                 debtor="Mario Debitore", invoice="F-2026-9",
                                 amount_due=Decimal("250.00"))  # fmt: skip
        promise.promise_amount, promise.promise_date = Decimal("250.00"), NOW.date()
        world.ids["a_promise"] = promise.id
        for scope, number in (("acme", A_DNC), ("bravo", B_DNC), ("*", CENTER_DNC)):
            session.add(DoNotCall(scope=scope, number=number, reason="asked",
                                  source="test", added_at=NOW))  # fmt: skip
