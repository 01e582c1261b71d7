"""Pacing: how many lines a ratio campaign places, and the drops it may expect."""

from __future__ import annotations

import random

from ivr.campaigns.pacing import (
    PRIOR_ANSWER_RATE,
    Day,
    adapt,
    chance_answered,
    chance_free,
    expected_drops,
    ratio_lines,
)

CAP = 0.03
DAY = Day(placed=400, answered=320, dropped=2, answer_seconds=320 * 3.0, calls=320,
          call_seconds=320 * 60.0)  # fmt: skip


def test_one_line_per_free_operator_is_always_allowed_and_never_more_at_once() -> None:
    assert ratio_lines(4, (), 0, 0, 3.0, DAY, CAP) == 4
    assert ratio_lines(4, (), 3, 0, 3.0, DAY, CAP) == 1  # three of its lines still ring
    assert ratio_lines(4, (), 0, 4, 3.0, DAY, CAP) == 0  # four answered wait for operators
    assert ratio_lines(0, (), 0, 0, 3.0, DAY, CAP) == 0


def test_lines_are_placed_ahead_for_operators_about_to_be_free() -> None:
    wrapping_up = (chance_free(DAY, 0.5, 2),) * 3  # their wrap-up ends before any answer
    assert wrapping_up == (1.0, 1.0, 1.0)
    assert ratio_lines(1, wrapping_up, 0, 0, 3.0, DAY, CAP) > 1
    talking = (chance_free(DAY, None, 2),) * 3  # long calls: little chance to end in time
    assert ratio_lines(1, talking, 0, 0, 3.0, DAY, CAP) == 1


def test_no_line_beyond_the_free_operators_once_the_days_drops_are_spent() -> None:
    assert ratio_lines(2, (0.9, 0.9), 0, 0, 3.0, DAY, CAP) == 3
    low = Day(placed=100, answered=100, dropped=2)  # 2 %: one more drop would pass 3 %
    # operators certain to be free in time: no drop to expect, whatever the budget
    assert ratio_lines(2, (1.0, 1.0), 0, 0, 3.0, low, CAP) == 4
    # drops past the safety line today: the estimates were wrong, no line ahead at all
    spent = Day(placed=100, answered=100, dropped=3)
    assert ratio_lines(2, (1.0, 1.0), 0, 0, 3.0, spent, CAP) == 2
    assert ratio_lines(2, (1.0, 1.0), 0, 0, 1.0, DAY, CAP) == 4  # N: at most 1 per operator


def test_expected_drops() -> None:
    assert expected_drops(3, 1.0, 3, ()) == 0.0
    assert expected_drops(4, 1.0, 3, ()) == 1.0
    assert abs(expected_drops(2, 0.5, 1, ()) - 0.25) < 1e-9
    assert abs(expected_drops(2, 1.0, 1, (0.5,)) - 0.5) < 1e-9


def test_the_ratio_adapts_to_the_days_drop_rate() -> None:
    assert adapt(2.0, Day(placed=100, answered=100, dropped=3), CAP, 3.0) == 1.75
    assert adapt(2.0, Day(placed=100, answered=100, dropped=0), CAP, 3.0) == 2.1
    assert adapt(3.0, Day(placed=100, answered=100, dropped=0), CAP, 3.0) == 3.0


def test_in_a_simulated_day_the_drops_stay_within_the_cap() -> None:
    """Operators, calls answered at random after a random delay (some never), random
    lengths: the pacing's own promise, measured over many decisions."""
    rng = random.Random(5)
    answered = dropped = placed = 0
    for _ in range(3000):
        day = Day(placed=placed + 200, answered=answered + 160, dropped=dropped,
                  answer_seconds=(answered + 160) * 3.0, calls=answered + 160,
                  call_seconds=(answered + 160) * 20.0)  # fmt: skip
        free = rng.randint(0, 4)
        soon = tuple(chance_free(day, rng.choice([0.5, None]), 2) for _ in range(rng.randint(0, 4)))
        lines = ratio_lines(free, soon, 0, 0, 3.0, day, CAP)
        placed += lines
        answers = sum(rng.random() < 0.8 for _ in range(lines))
        operators = free + sum(rng.random() < q for q in soon)
        answered += answers
        dropped += max(0, answers - operators)
    assert answered > 3000
    assert dropped / answered <= CAP, (dropped, answered)


def test_a_call_near_its_usual_end_is_likely_to_free_its_operator_in_time() -> None:
    lengths = tuple(float(n) for n in range(5, 13)) * 5  # calls of 5 to 12 s
    day = Day(placed=100, answered=80, answer_seconds=80 * 3.0, calls=40, call_seconds=340,
              lengths=lengths)  # fmt: skip
    # Horizon 3.5 s: answered in 3 s, waits 2 s, less the operator's phone (RING_OPERATOR).
    early = chance_free(day, None, 2, elapsed=2.0)  # only calls of up to 5.5 s
    late = chance_free(day, None, 2, elapsed=9.0)  # every call this long ends by 12.5 s
    assert early == 0.125 and late == 1.0
    assert chance_free(day, None, 2, elapsed=30.0) == 0.0  # longer than any: no telling
    assert chance_free(day, None, 2, elapsed=9.0, after=10.0) == 0.0  # then a long wrap-up


def test_a_line_that_has_rung_is_answered_sooner_or_not_at_all() -> None:
    delays = tuple(float(d) for d in range(4, 14)) * 3  # answers 4 to 13 s after the dial
    day = Day(placed=100, answered=30, answer_seconds=30 * 8.5, delays=delays)
    p = day.answer_rate
    assert chance_answered(day, 0.0, 13.0) == p  # a new line, by the latest answer
    assert chance_answered(day, 0.0, 6.0) == p * 0.3  # 4, 5 and 6 s: 3 of 10
    assert chance_answered(day, 8.0, 3.0) == p * 0.6  # 9, 10, 11 of the 5 left past 8 s
    assert chance_answered(day, 13.0, 10.0) == 0.0  # longer than any answer today
    unmeasured = Day(placed=100, answered=30, answer_seconds=30 * 8.0)  # no delays, 8 s mean
    assert chance_answered(unmeasured, 0.0, 7.9) == 0.0
    assert chance_answered(unmeasured, 3.0, 5.0) == unmeasured.answer_rate


def test_a_busy_operator_is_judged_at_the_moment_asked() -> None:
    lengths = tuple(float(n) for n in range(5, 13)) * 5  # calls of 5 to 12 s
    day = Day(placed=100, answered=80, answer_seconds=80 * 3.0, calls=40, call_seconds=340,
              lengths=lengths)  # fmt: skip
    # 4 s into a call: by an answer 1 s from now (horizon 1.5 s) only the 5 s calls ended.
    assert chance_free(day, None, 2, elapsed=4.0, within=1.0) == 0.125
    assert chance_free(day, None, 2, elapsed=4.0, within=7.0) == 0.875  # up to 11.5 s
    assert chance_free(day, None, 2, elapsed=4.0) == chance_free(day, None, 2, 4.0, within=3.0)


def test_the_answer_rate_waits_for_the_lines_still_ringing() -> None:
    # The first seconds of a day: 40 lines placed, 20 still ringing, 6 of the others answered.
    assert Day(placed=40, answered=6, ringing=20).answer_rate == 0.3
    assert Day(placed=40, answered=1, ringing=30).answer_rate == PRIOR_ANSWER_RATE  # too few
