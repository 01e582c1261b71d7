"""`ivr simulate PATH --replay`: stored calls decided again by candidate rules, on a real SQLite
database migrated by alembic and two rules folders."""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.records.db import make_engine, session_factory, upgrade
from ivr.records.repo import open_call
from ivr.replay.cli import register as register_replay
from ivr.routing.cli import register

ROME = ZoneInfo("Europe/Rome")
STUDIO, ROSSI, ROSSI_2 = "0633333331", "0611111111", "0611111112"


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, 3, hour, minute, tzinfo=ROME)  # a Monday: everyone open


# linkedid, number dialled, caller, arrival
CALLS = [
    ("c1", STUDIO, "0611999000", at(10)),  # office hours
    ("c2", STUDIO, "0611999000", at(10, 5)),  # the same caller again: repeat rule
    ("c3", ROSSI, "0612000000", at(10)),
    ("c4", ROSSI_2, "0612000001", at(10, 1)),  # the number the candidate moves
    ("c5", STUDIO, "", at(10, 10)),  # withheld
]


async def store(url: str) -> None:
    await upgrade(url)
    engine = make_engine(url)
    try:
        sessions = session_factory(engine)
        for linkedid, called, caller, arrived in CALLS:
            await open_call(
                sessions,
                linkedid=linkedid,
                channel=f"PJSIP/trunk-{linkedid}",
                client_id="studio" if called == STUDIO else "rossi",
                client_name=None,
                called=called,
                caller_number=caller,
                caller_name="Maria\x1b[2J" if linkedid == "c4" else "",
                arrived_at=arrived,
                route="operators",
            )
    finally:
        await engine.dispose()


SHARED = """
fallback_group: fallback
operators:
  op1: {name: Anna}
  op2: {name: Bruno}
groups:
  day: {members: [op1]}
  fallback: {members: [op2]}
priorities: {normal: 0, repeat: 5}
"""
CLIENTS = {
    "studio": """
name: Studio
numbers: ["0633333331"]
timezone: Europe/Rome
hours:
  mon-fri: ["09:00-18:00"]
rules:
  - name: again
    when: {open: true, repeat_within: 600}
    priority: repeat
    to: [day, fallback, message]
  - name: office hours
    when: {open: true}
    to: [day, message]
  - to: message
""",
    "rossi": """
name: Rossi
numbers: ["0611111111", "0611111112"]
timezone: Europe/Rome
rules:
  - to: [day, fallback, message]
""",
    "casa": """
name: Casa
numbers: ["0222222221"]
timezone: Europe/Rome
rules:
  - to: [fallback, message]
""",
}


def write_rules(folder: Path) -> None:
    (folder / "clients").mkdir(parents=True)
    (folder / "shared.yaml").write_text(SHARED)
    for name, text in CLIENTS.items():
        (folder / "clients" / f"{name}.yaml").write_text(text)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The live rules in the settings, and a candidate copy that changes two things."""
    live, candidate = tmp_path / "live", tmp_path / "candidate"
    write_rules(live)
    write_rules(candidate)
    clients = candidate / "clients"
    edit(clients / "studio.yaml", "to: [day, fallback, message]", "to: [fallback, message]")
    edit(clients / "rossi.yaml", ', "0611111112"', "")
    edit(clients / "casa.yaml", '"0222222221"]', '"0222222221", "0611111112"]')

    url = f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}"
    asyncio.run(store(url))
    monkeypatch.setenv("IVR_DB_URL", url)
    monkeypatch.setenv("IVR_RULES", str(live))
    monkeypatch.setenv("IVR_AMI_SECRET", "unused")
    monkeypatch.setenv("IVR_INSTANCE", "replaytest")
    return live, candidate


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    top = argparse.ArgumentParser(prog="ivr")
    sub = top.add_subparsers(dest="command", required=True)
    register(sub)
    register_replay(sub)
    args = top.parse_args(argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_replay_lists_the_calls_whose_routing_would_change(capsys, folders):
    _, candidate = folders
    code, out, err = run(capsys, "simulate", str(candidate), "--replay")
    assert code == 0, err
    assert out.splitlines() == [
        'c4  2025-03-03T09:01:00+00:00  0611111112  from 0612000001 "Maria\\x1b[2J"',
        "  before: rossi: group day > group fallback > message  (clients/rossi.yaml: rules[0])",
        "  after:  casa: group fallback > message  (clients/casa.yaml: rules[0])",
        "c2  2025-03-03T09:05:00+00:00  0633333331  from 0611999000",
        "  before: studio: group day > group fallback > message [priority 5]"
        "  (clients/studio.yaml: rules[0])",
        "  after:  studio: group fallback > message [priority 5]  (clients/studio.yaml: rules[0])",
        "5 calls replayed, 2 would change",
    ]  # oldest first


def test_replay_as_json(capsys, folders):
    _, candidate = folders
    code, out, _ = run(capsys, "simulate", str(candidate), "--replay", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["replayed"], data["skipped"], data["changed"]) == (5, 0, 2)
    assert data["changes"][0]["after"]["client"] == "casa"
    first = data["changes"][1]
    assert first["linkedid"] == "c2"
    assert first["when"] == "2025-03-03T09:05:00+00:00"
    assert first["number"] == STUDIO and first["caller"] == "0611999000"
    assert first["before"]["chain"] == "group day > group fallback > message"
    assert first["after"] == {
        "client": "studio",
        "chain": "group fallback > message",
        "priority": 5,
        "why": "opening hours 09:00-18:00",
        "rule": "clients/studio.yaml: rules[0]",
    }


def test_replay_of_the_live_rules_changes_nothing(capsys, folders):
    live, _ = folders
    code, out, _ = run(capsys, "simulate", str(live), "--replay", "--limit", "3")
    assert code == 0
    assert out == "3 calls replayed, 0 would change\n"


def test_replay_of_invalid_rules_fails_before_reading_calls(capsys, folders):
    _, candidate = folders
    broken = candidate / "clients" / "rossi.yaml"
    broken.write_text(broken.read_text().replace("timezone:", "timezon:"))
    code, out, err = run(capsys, "simulate", str(candidate), "--replay")
    assert code == 1 and out == ""
    assert f"{broken}:4:1: unknown key 'timezon'" in err


def test_simulate_without_number_or_replay_is_a_usage_error(capsys, folders):
    live, _ = folders
    code, _, err = run(capsys, "simulate", str(live))
    assert code == 2 and "--number is required" in err
