"""The demo rules in routing_rules/ load cleanly and route the calls the demo makes."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.routing import CallInfo, RulesHolder, Step, evaluate, load_rules

RULES = Path(__file__).resolve().parents[2] / "routing_rules"
ROME = ZoneInfo("Europe/Rome")


@pytest.fixture(scope="module")
def rules():
    return load_rules(RULES)


def test_demo_rules_load_without_problems(rules):
    assert rules.fallback_group == "fallback"
    assert rules.groups["day"].members == ("op1", "op2")
    assert rules.groups["fallback"].members == ("op3",)
    assert rules.number_index["0611111111"] == "rossi-idraulica"
    assert rules.warnings == ()


def test_plumber_in_office_hours_rings_the_day_group(rules):
    decision = evaluate(
        rules, CallInfo("0611111111", "3330001111"), datetime(2025, 3, 3, 9, 0, tzinfo=ROME)
    )
    assert decision.open
    assert decision.client is not None and decision.client.id == "rossi-idraulica"
    assert decision.chain[0] == Step(
        kind="operators", operators=("op1", "op2"), group="day", timeout=25
    )
    assert [s.kind for s in decision.chain] == ["operators", "operators", "message"]


def test_unknown_number_still_reaches_a_human(rules):
    decision = evaluate(
        rules, CallInfo("0200000000", "3330001111"), datetime(2025, 3, 3, 9, 0, tzinfo=ROME)
    )
    assert decision.client is None
    assert not decision.open
    assert decision.why == "unknown number"
    assert decision.rule == ""
    assert decision.chain == (
        Step(kind="operators", operators=("op3",), group="fallback"),
        Step(kind="message"),
    )


def test_holder_serves_the_demo_rules(rules):
    holder = RulesHolder(RULES)
    assert holder.current.source_digest == rules.source_digest
    assert holder.reload() == (True, "unchanged")
