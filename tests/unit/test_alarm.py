"""Sleep until the next due time or until woken (ivr/alarm.py)."""

from __future__ import annotations

import asyncio

import pytest

from ivr.alarm import Alarm, Alarms, run_schedule

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates


async def test_a_wake_ends_a_sleep_with_no_due_time() -> None:
    alarm = Alarm()
    sleeper = asyncio.create_task(alarm.sleep(None))
    await asyncio.sleep(0)
    assert not sleeper.done()
    alarm.wake()
    assert await asyncio.wait_for(sleeper, 5) is True


async def test_a_wake_before_the_sleep_is_not_lost() -> None:
    alarm = Alarm()
    alarm.wake()  # new work stored while the scheduler was busy
    assert await asyncio.wait_for(alarm.sleep(None), 5) is True
    assert await alarm.sleep(0.01) is False  # and it counts once


async def test_run_schedule_sleeps_as_long_as_the_step_says() -> None:
    alarms = Alarms()
    alarm = alarms.get("work")
    steps: list[float] = []
    second, done = asyncio.Event(), asyncio.Event()

    async def step() -> float | None:
        steps.append(asyncio.get_running_loop().time())
        if len(steps) == 2:
            second.set()
        if len(steps) == 3:
            done.set()
        return 0.05 if len(steps) == 1 else None  # then: nothing due until woken

    task = asyncio.create_task(run_schedule("work", step, alarm))
    try:
        await asyncio.wait_for(second.wait(), 5)
        assert steps[1] - steps[0] >= 0.04
        alarms.wake("work")
        await asyncio.wait_for(done.wait(), 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_failing_step_is_retried() -> None:
    alarm = Alarm()
    calls = 0
    again = asyncio.Event()

    async def step() -> float | None:
        nonlocal calls
        calls += 1
        if calls == 2:
            again.set()
        raise RuntimeError("the database is away")

    task = asyncio.create_task(run_schedule("work", step, alarm, retry=0.01))
    try:
        await asyncio.wait_for(again.wait(), 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
