"""The verification sample: its size (a share with a minimum, all when fewer), spread across
the operators, reproducible from its stored seed, drawn once per client and month and only
once the month and its grace period are over; its calls are given to an operator other than
the one who booked, contested appointments first."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from billing_world import MARCH, World, rome
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ivr.billing import audit, disputes, draw
from ivr.billing.models import Draw, Verification
from ivr.campaigns import activity, store
from ivr.campaigns.models import CampaignState, Contact
from ivr.dialpolicy import DialPolicy

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates

SIZES = [  # appointments, share, minimum -> drawn
    (0, 0.04, 3, 0), (2, 0.04, 3, 2), (3, 0.04, 3, 3), (10, 0.04, 3, 3), (75, 0.04, 3, 3),
    (76, 0.04, 3, 4), (100, 0.04, 3, 4), (101, 0.04, 3, 5), (250, 0.04, 3, 10),
    (250, 0.10, 0, 25), (5, 1.0, 0, 5),
]  # fmt: skip


@pytest.mark.parametrize(("n", "share", "minimum", "size"), SIZES)
def test_the_sample_is_a_share_with_a_minimum_or_all(
    n: int, share: float, minimum: int, size: int
) -> None:
    assert draw.sample_size(n, share, minimum) == size


def test_every_operator_is_checked_before_any_twice() -> None:
    population = [(i, "op1") for i in range(20)] + [(100 + i, "op2") for i in range(5)]
    population.append((200, "op3"))
    drawn = draw.draw_sample(population, 0.1, 3, "seed-1")
    by = dict(population)
    assert Counter(by[a] for a in drawn) == {"op1": 1, "op2": 1, "op3": 1}
    assert drawn == draw.draw_sample(list(reversed(population)), 0.1, 3, "seed-1")  # same
    seeds = {tuple(draw.draw_sample(population, 0.1, 3, f"seed-{n}")) for n in range(20)}
    assert len(seeds) > 5  # the seed decides which


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["op1", "op2", "op3", "op4"]), st.integers(1, 30),
                    min_size=1),
    st.floats(0.01, 1.0),
    st.integers(0, 6),
    st.text(min_size=1, max_size=8),
)  # fmt: skip
def test_any_draw_is_fair_and_reproducible(
    counts: dict[str, int], share: float, minimum: int, seed: str
) -> None:
    population = [(n * 100 + i, op) for n, (op, k) in enumerate(sorted(counts.items()))
                  for i in range(k)]  # fmt: skip
    drawn = draw.draw_sample(population, share, minimum, seed)
    assert drawn == draw.draw_sample(population, share, minimum, seed)
    assert len(drawn) == len(set(drawn)) == draw.sample_size(len(population), share, minimum)
    by = dict(population)
    got = Counter(by[a] for a in drawn)
    # round robin: an operator with appointments left was never passed over twice
    for op, k in counts.items():
        if got[op] < k:
            assert max(got.values()) - got[op] <= 1


async def _month(world: World) -> list[int]:
    booked = [await world.appointment(rome(d), operator="op1") for d in (2, 3, 4, 5, 6)]
    booked += [await world.appointment(rome(d), operator="op2") for d in (9, 10, 11)]
    return booked


async def _draw(world: World, who: str = "engine") -> draw.Drawn:
    return await draw.draw_month(
        world.sessions,
        world.campaigns,
        "acme",
        MARCH,
        "Europe/Rome",
        share=0.04,
        minimum=3,
        grace_days=2,
        who=who,
        now=world.now,
    )


async def test_a_month_is_drawn_once_when_due_and_can_be_drawn_again_from_its_seed(
    world: World,
) -> None:
    booked = await _month(world)
    await world.appointment(rome(7), campaign_id="bravo-visits")  # another client's
    world.now = rome(2, 23, month=4)
    with pytest.raises(draw.DrawError, match="grace period"):
        await _draw(world)
    world.now = rome(3, 0, month=4)
    results = await asyncio.gather(*(_draw(world, f"engine {n}") for n in range(3)))
    assert sorted(r.new for r in results) == [False, False, True]
    row = results[0].draw
    assert all(r.draw.seed == row.seed and r.draw.drawn == row.drawn for r in results)
    assert len(row.drawn) == 3 and set(row.drawn) <= set(booked)
    assert sorted(a for a, _ in row.population) == booked  # acme's only
    assert draw.reproduce(row)
    row.drawn = list(reversed(row.drawn))  # a list someone "picked" does not reproduce
    assert not draw.reproduce(row)
    again = await _draw(world)
    assert not again.new and again.draw.seed == results[0].draw.seed
    async with world.sessions() as session:
        assert len(list(await session.scalars(select(Draw)))) == 1
        checks = list(await session.scalars(select(Verification)))
        contacts = {c.id: c for c in await session.scalars(select(Contact).where(
            Contact.campaign_id == "visits-verify"))}  # fmt: skip
        state = await session.get(CampaignState, "visits-verify")
        log = await audit.entries(session, "acme", [f"draw {MARCH}"])
    assert sorted(c.appointment_id for c in checks) == sorted(results[0].draw.drawn)
    assert all(c.sampled and not c.contested and c.status == "pending" for c in checks)
    for check in checks:
        contact = contacts[check.contact_id]
        assert contact.extra["not_operator"] == check.not_operator in ("op1", "op2")
        assert contact.extra["verification"] == check.id and contact.status == "pending"
    assert state is not None and state.status == "running"
    assert [e.action for e in log] == ["drawn"] and log[0].after["seed"] == row.seed


async def test_verification_calls_go_to_another_operator_contested_ones_first(
    world: World,
) -> None:
    booked = await _month(world)
    world.now = rome(5, 12, month=4)
    made = await _draw(world)
    left = [a for a in booked if a not in made.draw.drawn]
    contest, problem = await disputes.file(world.sessions, world.campaigns, "acme",
                                           "Europe/Rome", f"A{left[0]}", "did-not-happen",
                                           "nobody came", "admin@acme", world.now)  # fmt: skip
    assert problem is None and contest is not None
    checking = world.campaign("visits-verify")

    async def claim(*operators: str) -> list[store.Claimed]:
        return await store.claim(world.sessions, checking, engine="e", now=world.now,
                                 operators=list(operators), policy=DialPolicy(),
                                 register_max_days=15, recording_dir="/srv/rec")  # fmt: skip

    async with world.sessions() as session:
        by_operator = dict(
            (
                await session.execute(select(Verification.contact_id, Verification.not_operator))
            ).all()
        )
    only_op1 = [c for c, op in by_operator.items() if op == "op1"]
    # op3 booked nothing: the contested one comes first, whoever booked it.
    [first] = await claim("op3")
    assert first.contact.extra["appointment"] == left[0] and first.contact.extra["contested"]
    assert first.operator == "op3" and first.attempt is not None
    assert first.attempt.recording_path == f"/srv/rec/visits-verify/{first.attempt.id}.wav"
    # op1 is free, alone: op1 never gets its own appointments' calls.
    got = await claim("op1")
    assert all(c.contact.id not in only_op1 for c in got)
    due = await activity.next_due(world.sessions, ["visits-verify"], after=world.now)
    assert due is None  # the ones left are due now, for an operator other than op1


async def test_a_contest_on_a_drawn_appointment_moves_its_call_ahead(world: World) -> None:
    booked = await _month(world)
    world.now = rome(5, 12, month=4)
    made = await _draw(world)
    target = made.draw.drawn[-1]
    await disputes.file(world.sessions, world.campaigns, "acme", "Europe/Rome", f"A{target}",
                        "did-not-happen", "", "admin", world.now)  # fmt: skip
    async with world.sessions() as session:
        [check] = await session.scalars(select(Verification).where(
            Verification.appointment_id == target))  # fmt: skip
        contact = await session.get(Contact, check.contact_id)
        others = list(await session.scalars(select(Contact).where(
            Contact.campaign_id == "visits-verify", Contact.id != check.contact_id)))  # fmt: skip
    assert check.sampled and check.contested and contact is not None
    assert len(others) == 2 and all(contact.next_at < o.next_at for o in others)
    assert target in booked


async def test_a_verification_whose_business_cannot_be_called_says_so(world: World) -> None:
    await _month(world)
    made = await _draw(world)
    async with world.sessions.begin() as session:  # on a do-not-call list, say
        check = await session.scalar(
            select(Verification).where(Verification.appointment_id == made.draw.drawn[0])
        )
        assert check is not None
        contact = await session.get(Contact, check.contact_id)
        assert contact is not None
        contact.status, contact.refusal = "refused", "do-not-call"
    view = await world.statement(MARCH)
    shown = {i.key: i.verification for s in view.sections for i in s.items if i.verification}
    assert shown[f"A{made.draw.drawn[0]}"]["status"] == "refused"
    assert shown[f"A{made.draw.drawn[1]}"]["status"] == "pending"
