"""Operator groups become Asterisk queues: the plan's variables and the rendered queues.conf."""

from __future__ import annotations

from pathlib import Path

import pytest

from agi_scripts.inbound_plan import plan
from ivr import config
from ivr import variables as v
from ivr.asterisk.render import Operator, queues_of, render
from ivr.routing import load_rules
from ivr.routing.decision import ClientCard, Decision, Step

RULES = Path(__file__).resolve().parents[1] / "e2e" / "queues" / "rules"


def settings(tmp_path: Path) -> config.Settings:
    return config.load(
        environ={},
        instance="unitq",
        db_url="sqlite+aiosqlite:///:memory:",
        asterisk_root=tmp_path,
        ami_secret="x",
        home=config.PROJECT_HOME,
    )


def decision(*chain: Step, priority: int = 0) -> Decision:
    card = ClientCard(id="shop", name="Corner Shop")
    return Decision(client=card, open=True, why="", rule="", chain=chain, priority=priority)


def test_a_group_step_waits_in_its_queue_at_the_decision_priority(tmp_path: Path) -> None:
    chosen = Step(kind="operators", operators=("op2",), timeout=15)
    group = Step(kind="operators", operators=("op1",), group="desk", timeout=40)
    out = plan(decision(chosen, group, Step(kind="message"), priority=10), settings(tmp_path), "1")

    assert out[v.PRIORITY] == "10"
    assert out[f"{v.TARGETS}_1"] == "PJSIP/op2&PJSIP/op2-web" and f"{v.QUEUE}_1" not in out  # Dial
    assert out[f"{v.QUEUE}_2"] == "desk" and out[f"{v.RING_TIMEOUT}_2"] == "40"
    assert out[v.ROUTE] == "operators" and out[v.ROUTE_AFTER] == "message"


def test_every_group_is_rendered_as_a_queue_with_its_members(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for op in ("OP1", "OP3"):  # no generated secret files in the project's var/
        monkeypatch.setenv(f"IVR_SIP_PASSWORD_{op}", "pw")
    s = settings(tmp_path)
    rules = load_rules(RULES)
    queues = queues_of(rules, ring_seconds=20)
    etc = render(s, [Operator("op1", "Anna"), Operator("op3", "Carla")], ["op3"], queues=queues)
    text = (etc / "queues.conf").read_text()

    desk = text.split("[desk]", 1)[1].split("[fallback]", 1)[0]
    assert "strategy = linear" in desk
    assert "timeout = 20" in desk  # one ring is at most ring_seconds, within the 60 s wait
    # The desk phone and the browser phone: one operator, each phone its own state.
    assert "member => PJSIP/op1,0,op1,PJSIP/op1" in desk
    assert "member => PJSIP/op1-web,0,op1,PJSIP/op1-web" in desk
    fallback = text.split("[fallback]", 1)[1]
    assert "timeout = 3" in fallback  # never longer than the group's whole wait
    assert "member => PJSIP/op3,0,op3,PJSIP/op3" in fallback


def test_members_without_the_groups_skill_wait_one_penalty_level(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    (rules_dir / "clients").mkdir(parents=True)
    (rules_dir / "shared.yaml").write_text(
        "fallback_group: plumbers\n"
        "operators:\n"
        "  op1: {name: Anna, skills: [plumbing]}\n"
        "  op2: {name: Bruno, skills: [legal]}\n"
        "groups:\n"
        "  plumbers: {members: [op2, op1], skill: plumbing}\n"
        "  lawyers: {members: [op1], skill: legal}\n"
    )
    (rules_dir / "clients" / "x.yaml").write_text(
        'name: X\nnumbers: ["0611"]\nrules:\n  - to: plumbers\n'
    )
    rules = load_rules(rules_dir)
    queues = {q.id: q for q in queues_of(rules, ring_seconds=20)}

    assert [(m.id, m.penalty) for m in queues["plumbers"].members] == [("op2", 1), ("op1", 0)]
    assert [w.message for w in rules.warnings] == [
        "no operator of group 'lawyers' has the skill 'legal'"
    ]
