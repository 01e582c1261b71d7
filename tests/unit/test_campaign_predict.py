"""Predictive pacing and blending (ivr/campaigns/predict.py): pure arithmetic."""

from __future__ import annotations

import math
from dataclasses import replace

from ivr.campaigns import predict
from ivr.campaigns.pacing import Day, chance_operator_free
from ivr.campaigns.tracking import Waiting


def test_erlang_c_matches_the_textbook() -> None:
    # 10 Erlangs on 12 agents: P(wait) = 0.4493 (any Erlang C table).
    assert math.isclose(predict.erlang_c(12, 10.0), 0.4493, abs_tol=1e-3)
    assert predict.erlang_c(5, 5.0) == 1.0


def test_erlang_staffing_for_80_in_20() -> None:
    # 360 calls an hour of 180 s = 18 Erlangs: 21 agents answer 72 % within 20 s, 22 82 %.
    agents = predict.erlang_agents(0.1, 180.0, 0.8, 20.0)
    assert agents == 22
    assert predict.erlang_agents(0.0, 180.0, 0.8, 20.0) == 0


def test_no_reserve_when_inbound_is_quiet_or_the_freeing_stream_carries_it() -> None:
    assert predict.reserve(0.0, 0.2, 0, 180.0) == 0
    # 20 operators on 110 s calls free one every 5.5 s: a caller every 30 s needs nobody idle.
    nu = predict.freeing(5, 15, 180.0, 105.0)
    assert predict.reserve(1 / 30, nu, 5, 180.0) == 0


def test_reserve_grows_with_the_inbound_load_and_falls_back_to_erlang_c() -> None:
    small = predict.reserve(0.013, predict.freeing(2, 2, 180.0, 105.0), 2, 180.0)
    larger = predict.reserve(0.02, predict.freeing(2, 2, 180.0, 105.0), 2, 180.0)
    assert 1 <= small <= larger
    # Nobody busy: all the inbound load's Erlang C staffing is kept.
    assert predict.reserve(0.05, 0.0, 0, 180.0) == predict.erlang_agents(0.05, 180.0, 0.8, 20)


def test_forecast_rises_fast_and_forgets_after_the_window() -> None:
    f = predict.Forecast()
    for n in range(30):
        f.arrive(1000.0 + n * 10)  # a caller every 10 s over the last five minutes
    assert math.isclose(f.rate(1300.0), 30 / predict.SHORT)
    assert f.rate(1300.0 + predict.WINDOW + 1) == 0.0
    lone = predict.Forecast()
    lone.arrive(1000.0)
    assert lone.rate(1001.0) == 0.0  # one caller is no load to keep anyone idle for


def test_budget_spends_the_morning_evenly() -> None:
    morning = Day(placed=1000, answered=300, dropped=0)
    # 9 drops left for the day, but nothing answered lately: one drop at most now.
    assert predict.budget(morning, predict.Recent(0, 0), 0.03) == 1.0
    # 100 answered lately at 3 %: 3 drops to expect, 8 reached by chance once in 100 windows.
    assert predict.window_allowance(predict.Recent(100, 0), 0.03) == 8
    assert predict.budget(morning, predict.Recent(100, 1), 0.03) == 7.0
    assert predict.budget(morning, predict.Recent(100, 9), 0.03) == 0.0  # a burst
    over = Day(placed=100, answered=30, dropped=2)
    assert predict.budget(over, predict.Recent(100, 0), 0.03) == 0


def test_the_window_allowance_is_the_noise_of_small_counts_not_a_share() -> None:
    allowance = [predict.window_allowance(predict.Recent(n, 0), 0.02) for n in (0, 50, 80, 300)]
    assert allowance == [1, 4, 5, 12]
    # Poisson: the chance of more than the allowance at the cap's rate is at most 1 %.
    mean = 0.02 * 80
    above = 1 - sum(math.exp(-mean) * mean**k / math.factorial(k) for k in range(6))
    assert above <= predict.WINDOW_CHANCE


MEASURED = Day(
    placed=1000, answered=300, dropped=3, answer_seconds=300 * 9.0,
    delays=tuple(float(d) for d in range(4, 15)) * 20,  # answers 4 to 14 s after the dial
)  # fmt: skip


def _moments(day: Day, ages: tuple[float, ...], soon: tuple[float, ...], rate: float = 0.0):
    """Busy operators that free `soon[i]` seconds from now (certain by then, never before)."""
    return predict.moments(
        day, ages, lambda within: tuple(1.0 if s <= within else 0.0 for s in soon), rate, 0.0
    )


def test_the_moments_follow_todays_answers() -> None:
    assert predict.checkpoints(Day(answered=5, answer_seconds=50.0)) == (5.0,)  # unmeasured
    assert predict.checkpoints(MEASURED) == (6.0, 9.0, 12.0, 14.0)
    moments = _moments(MEASURED, (10.0,), (3.0, 13.0))
    assert [m.soon for m in moments] == [(1.0, 0.0), (1.0, 0.0), (1.0, 0.0), (1.0, 1.0)]
    # A line ringing 10 s is answered sooner than a new one: by 6 s from now or never.
    assert moments[0].ringing[0] == moments[-1].ringing[0] == MEASURED.answer_rate
    assert moments[0].new < moments[-1].new == MEASURED.answer_rate


def test_predictive_dials_ahead_for_operators_about_to_free() -> None:
    recent = predict.Recent(100, 1)
    alone = predict.predictive_lines(2, _moments(MEASURED, (), ()), 0, MEASURED, recent, 0.03)
    ahead = predict.predictive_lines(
        2, _moments(MEASURED, (), (1.0,) * 8), 0, MEASURED, recent, 0.03
    )
    assert alone >= 2
    assert ahead > alone
    # The same operators, a window over its allowance (a burst): no line ahead of them.
    burst = predict.Recent(100, 9)
    sure = _moments(MEASURED, (), (1.0,) * 8)
    assert predict.predictive_lines(2, sure, 0, MEASURED, burst, 0.03) == 2


def test_an_operator_freeing_after_the_early_answers_does_not_take_them() -> None:
    """The time-resolved forecast: operators who free at 13 s cannot take the calls answered
    at 6 s. Put every answer at the mean time to answer (9 s), as the forecast did before
    the answers' delays were measured, and it counts them."""
    recent = predict.Recent(100, 1)
    late = _moments(MEASURED, (), (13.0,) * 8)
    early = _moments(MEASURED, (), (1.0,) * 8)
    assert predict.predictive_lines(0, late, 0, MEASURED, recent, 0.03) < (
        predict.predictive_lines(0, early, 0, MEASURED, recent, 0.03)
    )
    unmeasured = replace(MEASURED, delays=())
    at_mean = _moments(unmeasured, (), (8.0,) * 8)  # free by the 9 s mean: all counted
    assert predict.predictive_lines(0, at_mean, 0, unmeasured, recent, 0.03) > (
        predict.predictive_lines(0, _moments(MEASURED, (), (8.0,) * 8), 0, MEASURED, recent, 0.03)
    )


def test_predictive_counts_inbound_callers_to_come() -> None:
    recent = predict.Recent(100, 1)
    soon = (1.0,) * 8
    quiet = predict.predictive_lines(1, _moments(MEASURED, (), soon), 0, MEASURED, recent, 0.03)
    busy = predict.predictive_lines(
        1, _moments(MEASURED, (), soon, rate=0.2), 0, MEASURED, recent, 0.03
    )
    assert busy < quiet


def test_lines_ahead_shrink_smoothly_as_the_days_drops_run_over_the_aim() -> None:
    """No on/off gate: the lines placed ahead fall step by step as the day's drops pass the
    SAFETY x cap path, to one line per free operator EASE_DROPS over it."""
    recent = predict.Recent(100, 0)
    moments = predict.moments(MEASURED, (), lambda within: (0.9,) * 12, 0.0, 0.0)
    lines = []
    for dropped in range(20, 36, 2):  # the path: 24 drops of 1000 answered at 0.8 x 3 %
        day = replace(MEASURED, answered=1000, dropped=dropped)
        lines.append(predict.predictive_lines(2, moments, 0, day, recent, 0.03))
    assert lines == sorted(lines, reverse=True)
    assert lines[0] > lines[-1] == 2  # EASE_DROPS over the path: one line per free operator
    assert len(set(lines)) > 3  # more than on and off


def test_plan_per_mode() -> None:
    day = Day()
    recent = predict.Recent()
    assert predict.plan("preview", 3, (), 0, 0, 1.5, day, recent, 0.03) == 3
    assert predict.plan("progressive", 0, (), 0, 0, 1.5, day, recent, 0.03) == 0
    assert predict.plan("ratio", 2, (), 0, 0, 1.5, day, recent, 0.03) >= 2


def test_waiting_feeds_the_forecast_and_the_inbound_handle() -> None:
    w = Waiting()
    for n in range(3):
        w.apply({"Event": "QueueCallerJoin", "Queue": "team", "Uniqueid": str(n)}, 100.0)
    w.apply({"Event": "QueueCallerJoin", "Queue": "cmp-x", "Uniqueid": "x"}, 100.0)
    assert w.forecast.rate(110.0) == 3 / predict.SHORT
    for n in range(5):
        w.apply({"Event": "AgentComplete", "Queue": "team", "TalkTime": str(100 + n)})
    assert w.inbound_handle(60) == 102 + 30


def test_an_operator_writing_an_inbound_message_is_judged_by_the_inbound_wrap_up() -> None:
    day = Day(placed=100, answered=30, answer_seconds=240.0, wraps=(5.0,) * 30)
    # Three seconds into a wrap-up: a campaign's outcome form (5 s today) ends in time; an
    # inbound message (half the 60 s pause) does not.
    assert chance_operator_free(day, day, True, True, 3.0, 60.0, 2.0) == 1.0
    assert chance_operator_free(day, day, False, True, 3.0, 60.0, 2.0) == 0.0


def test_the_ratio_mode_aims_below_the_cap_by_amds_unseen_hang_ups() -> None:
    # 2 % dropped as the dialer sees it: under the cap, but AMD's hang-ups on people (the
    # authority counts them, the dialer does not see them) fill the rest with AMD on.
    day = Day(placed=1000, answered=300, dropped=6, answer_seconds=300 * 6.0)
    args = ("ratio", 2, (0.9, 0.9, 0.9, 0.9), 0, 0, 2.0, day, predict.Recent(100, 0), 0.03)
    assert predict.plan(*args, amd=False) > 2  # lines ahead of the busy operators
    assert predict.plan(*args, amd=True) == 2  # one line per free operator, none ahead
