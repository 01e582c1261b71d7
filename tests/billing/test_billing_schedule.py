"""The engine's billing job: draws each month's sample once the grace period is past, issues
each statement on the settings' day, says when it is next due, and sleeps until then or
until woken (never polls)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime

import pytest
from billing_world import MARCH, RULES, World, rome

from ivr.billing import draw, schedule, statement
from ivr.routing import RulesHolder
from ivr.services import Services

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates


def services(world: World, clock: list[datetime]) -> Services:
    return Services(
        settings=replace(world.settings, billing_issue_day=5, verify_grace_days=2),
        rules=RulesHolder(RULES),
        sessions=world.sessions,
        clock=lambda: clock[0],
    )


async def test_due_work_draws_and_issues_when_due_and_says_when_next(world: World) -> None:
    for d in (2, 3, 4, 5):
        await world.appointment(rome(d))
    clock = [rome(20)]
    s = services(world, clock)
    assert await schedule.due_work(s, world.campaigns, clock[0]) == rome(3, 0, month=4)
    assert await draw.find(world.sessions, "acme", MARCH) is None

    clock[0] = rome(3, 0, month=4)
    woke: list[str] = []
    s.wake.on("campaigns", woke.append)  # the dialer hears of the new calls
    assert await schedule.due_work(s, world.campaigns, clock[0]) == rome(5, 6, month=4)
    drawn = await draw.find(world.sessions, "acme", MARCH)
    assert drawn is not None and drawn.drawn_by == "the engine" and len(drawn.drawn) == 3
    assert woke == [""]
    assert await draw.find(world.sessions, "bravo", MARCH) is None  # bravo had none

    clock[0] = rome(5, 6, month=4)
    assert await schedule.due_work(s, world.campaigns, clock[0]) == rome(3, 0, month=5)
    issued = await statement.issued_months(world.sessions, "acme")
    assert list(issued) == ["2027-03"] and issued["2027-03"].issued_by == "the engine"
    assert issued["2027-03"].total == 240
    assert await statement.issued_months(world.sessions, "bravo") == {}  # nothing billed
    # Again at the same time: nothing new.
    assert await schedule.due_work(s, world.campaigns, clock[0]) == rome(3, 0, month=5)


async def test_the_job_sleeps_until_due_or_woken(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [rome(20)]
    s = services(world, clock)
    s.campaigns = lambda: type("C", (), {"by_id": {c.id: c for c in world.campaigns}})()
    runs: list[datetime] = []
    ran = asyncio.Event()

    async def due_work(services: Services, campaigns: list, now: datetime) -> datetime:
        runs.append(now)
        ran.set()
        return rome(3, 0, month=4)  # a fortnight away

    monkeypatch.setattr(schedule, "due_work", due_work)
    job = schedule.BillingSchedule(s)
    await job.start()
    try:
        async with asyncio.timeout(10):
            await ran.wait()
        ran.clear()
        await asyncio.sleep(0.3)  # one of the suite's few sleeps: proves nothing runs meanwhile
        assert len(runs) == 1 and job.next_due == rome(3, 0, month=4)
        clock[0] = rome(25)
        s.wake.deliver("billing")
        async with asyncio.timeout(10):
            await ran.wait()
        assert runs == [rome(20), rome(25)]
        assert job.status()["next_due"] == rome(3, 0, month=4).isoformat()
    finally:
        await job.close()
