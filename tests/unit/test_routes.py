"""The route table matches the dialplan, and a decision becomes the right variables."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from agi_scripts.inbound_plan import operator_display, plan, read_call
from agi_scripts.routes import routes
from ivr import config
from ivr import variables as v
from ivr.agi.routes import dialplan_routes, route_table
from ivr.asterisk.render import Operator, render
from ivr.routing.decision import ClientCard, Decision, Step

HOME = Path(__file__).resolve().parents[2]


class FakeServices:
    """routes() only binds the services into each handler; nothing is called here."""


def test_every_agi_route_in_the_dialplan_is_registered() -> None:
    table = routes(FakeServices())  # type: ignore[arg-type]
    wanted = set()
    for path in (HOME / "dialplan").glob("*.j2"):
        wanted |= dialplan_routes(path.read_text())
    assert "inbound" in wanted
    assert wanted <= set(table), f"unregistered: {wanted - set(table)}"


def test_a_duplicate_route_fails_at_start_up() -> None:
    async def handler(call: object) -> None:
        return None

    with pytest.raises(ValueError, match="inbound"):
        route_table(("inbound", handler), ("inbound", handler))  # type: ignore[arg-type]


def settings(tmp_path: Path) -> config.Settings:
    return dataclasses.replace(
        config.load(environ={}, instance="unit", asterisk_root=tmp_path / "root"),
        home=HOME,
    )


ACME = ClientCard(id="acme", name="Acme Plumbing", language="en")


def test_overflow_chain_becomes_numbered_targets_then_a_message(tmp_path: Path) -> None:
    decision = Decision(
        client=ACME,
        open=True,
        why="open",
        rule="r",
        chain=(
            Step(kind="operators", operators=("op1", "op2"), timeout=25),
            Step(kind="forward", number="3471234567", timeout=15),
            Step(kind="message", max_seconds=90),
        ),
    )
    values = plan(decision, settings(tmp_path), "1700000000.7")
    assert values[v.ROUTE] == "operators"
    # Each operator's desk phone and browser phone ring (an unregistered one is skipped).
    assert values[f"{v.TARGETS}_1"] == "PJSIP/op1&PJSIP/op1-web&PJSIP/op2&PJSIP/op2-web"
    assert values[f"{v.RING_TIMEOUT}_1"] == "25"
    assert values[f"{v.TARGETS}_2"] == "PJSIP/3471234567@trunk"
    assert f"{v.TARGETS}_3" not in values
    assert values[v.ROUTE_AFTER] == "message"
    assert values[v.MESSAGE_MAX] == "90"
    assert values[v.MESSAGE_FILE] == "/srv/ivr/unit/messages/acme/1700000000.7"


def test_escalation_takes_a_message_and_names_the_ladder(tmp_path: Path) -> None:
    decision = Decision(
        client=ACME,
        open=False,
        why="closed",
        rule="r",
        chain=(Step(kind="escalate", ladder="rossi-night", max_seconds=60),),
    )
    values = plan(decision, settings(tmp_path), "1.1")
    assert values[v.ROUTE] == "message"
    assert values[v.ESCALATE] == "rossi-night"
    assert values[v.MESSAGE_MAX] == "60"


def test_unknown_number_goes_to_an_unrouted_message_box(tmp_path: Path) -> None:
    decision = Decision(client=None, open=False, why="unknown number", rule="", chain=())
    values = plan(decision, settings(tmp_path), "2.2")
    assert values[v.ROUTE] == "message"
    assert values[v.MESSAGE_FILE].endswith("/messages/unrouted/2.2")


def test_read_call_treats_withheld_callers_as_unknown() -> None:
    linkedid, info = read_call(
        {"agi_extension": "+39 06 1111", "agi_callerid": "anonymous", "agi_uniqueid": "9.9"},
        [],
    )
    assert linkedid == "9.9"
    assert info.called == "39061111"
    assert info.caller == ""
    assert operator_display(
        Decision(client=ACME, open=True, why="", rule=""), info.caller_name, info.caller
    ) == ("Acme Plumbing: withheld")


def test_render_writes_a_complete_isolated_config(tmp_path: Path) -> None:
    s = settings(tmp_path)
    etc = render(s, [Operator("op1", "Anna"), Operator("op3", "Carla")], ["op3"])
    files = {p.name for p in etc.iterdir()}
    assert {"asterisk.conf", "pjsip.conf", "manager.conf", "extensions.conf"} <= files
    assert f"astetcdir => {s.run_dir}/etc" in (etc / "asterisk.conf").read_text()
    manager = (etc / "manager.conf").read_text()
    assert f"secret = {s.ami_secret}" in manager and "bindaddr = 127.0.0.1" in manager
    assert (etc / "manager.conf").stat().st_mode & 0o077 == 0  # secrets: owner only
    assert "Dial(PJSIP/op3&PJSIP/op3-web," in (etc / "extensions.conf").read_text()
    assert "bind_rtp_to_media_address = yes" in (etc / "pjsip.conf").read_text()
    with pytest.raises(ValueError, match="op9"):
        render(s, [Operator("op1", "Anna")], ["op9"])
