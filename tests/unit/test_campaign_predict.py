"""Predictive pacing and blending (ivr/campaigns/predict.py): pure arithmetic."""

from __future__ import annotations

import math

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
    assert predict.budget(morning, predict.Recent(100, 1), 0.03) == 3.0
    over = Day(placed=100, answered=30, dropped=2)
    assert predict.budget(over, predict.Recent(100, 0), 0.03) == 0


def test_predictive_dials_ahead_for_operators_about_to_free() -> None:
    day = Day(placed=1000, answered=300, dropped=3, answer_seconds=300 * 9.0)
    recent = predict.Recent(100, 1)
    alone = predict.predictive_lines(2, (), 0, 0, day, recent, 0.03)
    ahead = predict.predictive_lines(2, (0.9,) * 8, 0, 0, day, recent, 0.03)
    assert alone >= 2
    assert ahead > alone
    # The same operators, a window that has spent its drops: no line ahead of them.
    spent = predict.predictive_lines(2, (0.9,) * 8, 0, 0, day, predict.Recent(100, 5), 0.03)
    assert spent == 2


def test_predictive_counts_inbound_callers_to_come() -> None:
    day = Day(placed=1000, answered=300, dropped=3, answer_seconds=300 * 9.0)
    recent = predict.Recent(100, 1)
    quiet = predict.predictive_lines(1, (0.9,) * 8, 0, 0, day, recent, 0.03)
    busy = predict.predictive_lines(1, (0.9,) * 8, 0, 0, day, recent, 0.03, arrivals=3.0)
    assert busy < quiet


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
