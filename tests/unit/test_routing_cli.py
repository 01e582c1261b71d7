"""`ivr check / simulate / schema / override`, run through the real argument parser."""

import argparse
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ivr.routing import OverrideStore
from ivr.routing.cli import register
from ivr.routing.schema import render

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates

RULES = Path(__file__).resolve().parents[2] / "routing_rules"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    top = argparse.ArgumentParser(prog="ivr")
    register(top.add_subparsers(dest="command", required=True))
    args = top.parse_args(argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_check_ok_prints_a_summary(capsys):
    code, out, _ = run(capsys, "check", str(RULES))
    assert code == 0
    assert out == "ok: 3 clients, 5 numbers, 3 operators, 3 groups (0 warnings), 3 campaigns\n"


def test_check_reports_warnings_and_errors(capsys, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    extra = rules / "clients" / "extra.yaml"
    extra.write_text('name: Extra\nnumbers: ["0698765432"]\nrules:\n  - to: day\n  - to: message\n')
    code, out, _ = run(capsys, "check", str(rules))
    assert code == 0
    assert out.splitlines() == [
        f"{extra}:5:5: warning: rule can never match: rules[0] before it matches every call",
        "ok: 4 clients, 6 numbers, 3 operators, 3 groups (1 warning), 3 campaigns",
    ]
    extra.write_text('name: Extra\nnumbers: ["0611111111"]\nrules:\n  - to: dya\n')
    code, out, err = run(capsys, "check", str(rules))
    assert code == 1 and out == ""
    assert err.splitlines()[:2] == [  # files are read in name order: extra claims it first
        f"{extra}:4:9: unknown group 'dya'; known: day, fallback, property (or message, hangup)",
        f"{rules}/clients/rossi-idraulica.yaml:5:11: number 0611111111 is already claimed at "
        f"{extra}:2:11",
    ]
    assert err.splitlines()[-1] == "failed: 2 problems"


def test_simulate_prints_the_decision_as_json(capsys):
    code, out, _ = run(
        capsys,
        "simulate",
        str(RULES),
        "--number",
        "0611111111",
        "--caller",
        "3331234567",
        "--at",
        "2025-04-21T23:00",  # Easter Monday, local time of the client
        "--digits",
        "1",
    )
    assert code == 0
    assert json.loads(out) == {
        "at": "2025-04-21T23:00:00+02:00",
        "client": "rossi-idraulica",
        "open": False,
        "why": "holiday: Lunedì dell'Angelo",
        "rule": "clients/rossi-idraulica.yaml: rules[3] > menus.night[1]",
        "chain": [{"kind": "escalate", "max_seconds": 60, "ladder": "rossi-night"}],
        "priority": 20,
        "explanation": "Rossi Idraulica: holiday: Lunedì dell'Angelo; "
        "rule 'night and holidays': escalate to rossi-night",
    }


def test_schema_prints_the_published_schema(capsys):
    code, out, _ = run(capsys, "schema")
    assert code == 0 and out == render()


def test_override_set_list_clear(capsys, tmp_path):
    store = tmp_path / "overrides.json"
    common = ("override", "--file", str(store), "--rules", str(RULES))
    code, out, _ = run(
        capsys, *common, "set", "rossi-idraulica", "closed", "--for", "2h", "--reason", "ferie"
    )
    assert code == 0 and out.startswith("rossi-idraulica: closed, 20")
    saved = OverrideStore(store).load()
    (item,) = saved.items
    assert item.mode == "closed" and item.reason == "ferie"
    assert item.until is not None
    assert timedelta(hours=1, minutes=59) < item.until - datetime.now(UTC) <= timedelta(hours=2)
    code, out, _ = run(capsys, *common, "list")
    assert out.startswith("rossi-idraulica: closed")

    code, _, err = run(capsys, *common, "set", "nobody", "closed")
    assert code == 1 and err == f"unknown client 'nobody' in {RULES}\n"
    code, _, err = run(capsys, *common, "set", "rossi-idraulica", "group", "nightshift")
    assert code == 1 and "unknown group 'nightshift'" in err

    code, out, _ = run(capsys, *common, "clear", "rossi-idraulica")
    assert (code, out) == (0, "cleared rossi-idraulica\n")
    assert OverrideStore(store).load().items == ()
    code, out, _ = run(capsys, *common, "list")
    assert out == "no overrides\n"


def test_simulate_applies_an_overrides_file(capsys, tmp_path):
    store = tmp_path / "o.json"
    run(capsys, "override", "--file", str(store), "--rules", str(RULES), "set", "*", "message")
    code, out, _ = run(
        capsys,
        "simulate",
        str(RULES),
        "--number",
        "0633333331",
        "--at",
        "2025-03-04T10:00:00+01:00",
        "--overrides",
        str(store),
    )
    decision = json.loads(out)
    assert decision["rule"] == "override"
    assert decision["chain"] == [{"kind": "message"}]


@pytest.mark.parametrize("bad", ["soon", "3w"])
def test_override_duration_must_be_readable(capsys, tmp_path, bad):
    code, _, err = run(
        capsys,
        "override",
        "--file",
        str(tmp_path / "o.json"),
        "--rules",
        str(RULES),
        "set",
        "rossi-idraulica",
        "closed",
        "--for",
        bad,
    )
    assert code == 1 and "--for" in err
