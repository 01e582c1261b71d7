"""Rate limits on ladders, the count of calls out through the trunk, and forward steps the
policy or the cap refuses (skipped, the chain goes on)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agi_scripts.inbound_plan import plan
from ivr import config
from ivr import variables as v
from ivr.ami.message import Message
from ivr.escalation.limits import Limits, refusal
from ivr.outbound import OutboundCalls, trunk_prefix
from ivr.routing.decision import ClientCard, Decision, Step
from ivr.routing.model import Rules

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates


@pytest.mark.parametrize(
    ("number", "by_caller", "by_client", "allow_withheld", "why"),
    [
        ("0612345678", 0, 0, False, None),
        ("0612345678", 2, 9, False, None),
        ("0612345678", 3, 0, False, "rate limit: this number started 3 ladders"),
        ("0612345678", 0, 10, False, "rate limit: 10 ladders for this client"),
        ("", 0, 0, False, "withheld caller"),
        ("anonymous", 0, 0, False, "withheld caller"),
        ("Anonymous", 0, 0, True, None),
        ("", 0, 10, True, "rate limit: 10 ladders for this client"),
    ],
)
def test_refusal(
    number: str, by_caller: int, by_client: int, allow_withheld: bool, why: str | None
) -> None:
    found = refusal(Limits(3, 10, allow_withheld), number, by_caller, by_client)
    assert (found is None) if why is None else (found or "").startswith(why)


def test_zero_is_no_limit() -> None:
    assert refusal(Limits(0, 0), "0612345678", 1000, 1000) is None


def settings(**extra: object) -> config.Settings:
    return config.load(environ={}, instance="unitout", ami_secret="x", agi_token="t", **extra)


def event(
    name: str, channel: str, uniqueid: str, linkedid: str, account: str = "", state: str = "4"
) -> Message:
    return Message(
        [("Event", name), ("Channel", channel), ("ChannelState", state), ("Uniqueid", uniqueid),
         ("Linkedid", linkedid), ("AccountCode", account)]
    )  # fmt: skip


def test_calls_out_are_counted_from_asterisks_events() -> None:
    calls = OutboundCalls(settings(outbound_max_calls=2))
    assert calls.prefix == "PJSIP/trunk-" == trunk_prefix("PJSIP/{number}@trunk")
    calls.note(event("Newchannel", "PJSIP/trunk-1", "1.1", "1.1"))  # a caller: inbound
    calls.note(event("Newchannel", "PJSIP/op1-2", "1.2", "1.1"))  # an operator rung
    calls.note(event("Newchannel", "PJSIP/trunk-3", "1.3", "1.1"))  # a forward step
    # An Originate's channel: created Down, its account code set only after (Asterisk 22).
    calls.note(event("Newchannel", "PJSIP/trunk-4", "1.4", "1.4", "", state="0"))
    assert calls.up == 2 and calls.full() and not OutboundCalls(settings()).full()
    calls.note(event("Hangup", "PJSIP/trunk-3", "1.3", "1.1"))
    assert calls.up == 1 and not calls.full() and calls.full(pending=1)
    answered = Message(
        [("Event", "OriginateResponse"), ("Reason", "4"), ("Channel", "PJSIP/trunk-5")]
    )
    calls.note(answered)
    assert calls.up == 2
    calls.reset([event("CoreShowChannel", "PJSIP/trunk-9", "2.1", "2.0")])
    assert calls.channels == {"PJSIP/trunk-9"}


def test_may_dial_says_why_not() -> None:
    calls = OutboundCalls(settings(outbound_max_calls=1))
    rules = Rules({}, {}, "x", {}, {}, "")
    assert calls.may_dial(rules, None, "06 1234567").number == "+39061234567"
    assert calls.may_dial(rules, None, "899123456").reason == "premium numbers are refused"
    calls.note(event("Newchannel", "PJSIP/trunk-3", "1.3", "1.1"))
    full = calls.may_dial(rules, None, "06 1234567")
    assert not full and full.reason == "1 calls out already up in the center (at most 1)"


def test_a_refused_forward_step_is_skipped_and_the_chain_goes_on(tmp_path: Path) -> None:
    calls = OutboundCalls(settings())
    rules = Rules({}, {}, "x", {}, {}, "")
    decision = Decision(
        client=ClientCard(id="c", name="C"),
        open=True,
        why="",
        rule="",
        chain=(
            Step(kind="forward", number="899123456", timeout=5),
            Step(kind="forward", number="0612345678", timeout=5),
            Step(kind="operators", operators=("op1",), timeout=3),
            Step(kind="hangup"),
        ),
    )
    refused: list[tuple[str, str]] = []
    values = plan(
        decision, settings(), "1.1",
        dial=lambda n: calls.may_dial(rules, "c", n), refused=refused,
    )  # fmt: skip

    assert values[f"{v.TARGETS}_1"] == "PJSIP/+390612345678@trunk"
    assert values[f"{v.TARGETS}_2"] == "PJSIP/op1&PJSIP/op1-web"
    assert f"{v.TARGETS}_3" not in values
    assert values[v.ROUTE_AFTER] == "hangup"
    assert refused == [("899123456", "premium numbers are refused")]
