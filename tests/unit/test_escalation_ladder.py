"""The ladder state machine: the next step given the plan, the attempts so far and the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.escalation.ladder import (
    ACKNOWLEDGED,
    ANSWERED,
    BUSY,
    EXHAUSTED,
    NO_ANSWER,
    Attempt,
    Finished,
    Place,
    Plan,
    PlanContact,
    Slot,
    Wait,
    next_step,
)
from ivr.routing.model import Contact, Ladder, Window

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates

T0 = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)  # a Monday, 22:00 UTC
MARIO = PlanContact("Mario", "3331", ring=20)
LUCA = PlanContact("Luca", "3332", ring=20)
# On call Monday to Friday, 08:00-18:00 only.
DAYTIME = PlanContact("Anna", "3333", ring=20, days=0b0011111, ranges=((480, 1080),))


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def done(slot: Slot, start: float, end: float | None, outcome: str | None) -> Attempt:
    return Attempt(slot, s(start), None if end is None else s(end), outcome)


def test_the_first_contact_is_called_at_once() -> None:
    plan = Plan((MARIO, LUCA))
    assert next_step(plan, T0, [], T0) == Place(Slot(0, 0, 0), MARIO)


def test_while_a_call_is_in_progress_the_ladder_waits_for_its_outcome() -> None:
    plan = Plan((MARIO, LUCA))
    attempts = [done(Slot(0, 0, 0), 0, None, None)]
    assert next_step(plan, T0, attempts, s(100)) == Wait(None)


def test_no_answer_moves_to_the_next_contact_at_once() -> None:
    plan = Plan((MARIO, LUCA))
    attempts = [done(Slot(0, 0, 0), 0, 20, NO_ANSWER)]
    assert next_step(plan, T0, attempts, s(20)) == Place(Slot(0, 1, 0), LUCA)


def test_each_contact_gets_its_attempts_before_the_next() -> None:
    plan = Plan((MARIO, LUCA), attempts=2)
    first = [done(Slot(0, 0, 0), 0, 20, BUSY)]
    assert next_step(plan, T0, first, s(20)) == Place(Slot(0, 0, 1), MARIO)
    second = [*first, done(Slot(0, 0, 1), 20, 40, ANSWERED)]
    assert next_step(plan, T0, second, s(40)) == Place(Slot(0, 1, 0), LUCA)


def test_rounds_are_separated_by_the_pause() -> None:
    plan = Plan((MARIO, LUCA), rounds=2, pause=60)
    attempts = [done(Slot(0, 0, 0), 0, 20, NO_ANSWER), done(Slot(0, 1, 0), 20, 40, NO_ANSWER)]
    assert next_step(plan, T0, attempts, s(41)) == Wait(s(100))
    assert next_step(plan, T0, attempts, s(100)) == Place(Slot(1, 0, 0), MARIO)


def test_the_ladder_ends_after_its_rounds() -> None:
    plan = Plan((MARIO,), rounds=2, pause=5)
    attempts = [done(Slot(0, 0, 0), 0, 20, NO_ANSWER), done(Slot(1, 0, 0), 25, 45, NO_ANSWER)]
    assert next_step(plan, T0, attempts, s(46)) == Finished(EXHAUSTED)


def test_the_first_acknowledgement_ends_the_ladder() -> None:
    plan = Plan((MARIO, LUCA), rounds=3)
    attempts = [done(Slot(0, 0, 0), 0, 20, NO_ANSWER), done(Slot(0, 1, 0), 20, 30, ACKNOWLEDGED)]
    assert next_step(plan, T0, attempts, s(31)) == Finished(ACKNOWLEDGED)


def test_a_contact_off_call_is_skipped() -> None:
    plan = Plan((DAYTIME, LUCA))  # Monday 22:00: Anna is off call
    assert next_step(plan, T0, [], T0) == Place(Slot(0, 1, 0), LUCA)


def test_on_call_hours_are_read_in_the_ladder_time_zone() -> None:
    # 22:00 UTC is 08:00 in Vladivostok (UTC+10), on Tuesday: Anna is on call there.
    plan = Plan((DAYTIME, LUCA), timezone="Asia/Vladivostok")
    assert next_step(plan, T0, [], T0) == Place(Slot(0, 0, 0), DAYTIME)


def test_a_skipped_contact_is_not_called_back_later_in_the_same_round() -> None:
    plan = Plan((DAYTIME, LUCA))
    attempts = [done(Slot(0, 1, 0), 0, 20, NO_ANSWER)]
    morning = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)  # Anna is on call now, but was skipped
    assert next_step(plan, T0, attempts, morning) == Finished(EXHAUSTED)


def test_nobody_on_call_ends_the_ladder_without_calls() -> None:
    plan = Plan((DAYTIME,), rounds=3)
    assert next_step(plan, T0, [], T0) == Finished(EXHAUSTED)


def test_a_plan_is_made_from_the_rules_ladder_and_survives_json() -> None:
    ladder = Ladder(
        "night",
        (
            Contact("Mario", "3331", 15, "mario@example.org"),
            Contact("Anna", "3333", 25, None, Window(0b0011111, ((480, 1080),))),
        ),
        repeat=2,
        attempts=3,
        pause=30,
    )
    plan = Plan.of(ladder, "Europe/Rome")
    assert plan.rounds == 2 and plan.attempts == 3 and plan.pause == 30
    assert plan.contacts[0] == PlanContact("Mario", "3331", 15, "mario@example.org")
    assert plan.contacts[1].ranges == ((480, 1080),)
    assert Plan.from_json(plan.to_json()) == plan


OUTCOMES_NOT_ACK = st.sampled_from([NO_ANSWER, BUSY, ANSWERED, "failed", "unknown"])


@given(
    contacts=st.integers(1, 3),
    attempts=st.integers(1, 3),
    rounds=st.integers(1, 3),
    outcomes=st.lists(OUTCOMES_NOT_ACK, min_size=30, max_size=30),
)
def test_driving_the_ladder_to_its_end_calls_every_slot_once_in_order(
    contacts: int, attempts: int, rounds: int, outcomes: list[str]
) -> None:
    plan = Plan(tuple([MARIO, LUCA, MARIO][:contacts]), rounds, attempts, pause=10)
    made: list[Attempt] = []
    now = T0
    for _ in range(100):
        step = next_step(plan, T0, made, now)
        if isinstance(step, Finished):
            break
        if isinstance(step, Wait):
            assert step.until is not None and step.until > now
            now = step.until
            continue
        made.append(Attempt(step.slot, now, now + timedelta(seconds=20), outcomes[len(made)]))
        now += timedelta(seconds=20)
    assert step == Finished(EXHAUSTED)
    assert [a.slot for a in made] == list(plan.slots())
