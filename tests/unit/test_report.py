"""`ivr calls` output: table, JSON and CSV, and what hostile caller IDs cannot do to them."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ivr.records.db import make_engine, session_factory, upgrade
from ivr.records.repo import CallRecord, open_call
from ivr.records.report import format_csv, format_json, format_table, register
from ivr.routing.zones import client_zones

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates

START = datetime(2024, 11, 26, 16, 53, 20, 123456, tzinfo=UTC)
HOSTILE = "Eve\n2024-01-01 fake line\x1b[31m\u202eevil\t'; DROP TABLE calls;--"


def record(linkedid: str = "1732640000.1", **changes: object) -> CallRecord:
    values: dict[str, object] = {
        "id": 1,
        "linkedid": linkedid,
        "channel": "PJSIP/trunk-00000001",
        "client_id": "rossi",
        "client_name": "Studio Rossi",
        "called": "390612345678",
        "caller_number": "3395551234",
        "caller_name": "Jean Dupont",
        "arrived_at": START,
        "answered_at": START + timedelta(seconds=9),
        "ended_at": START + timedelta(seconds=95),
        "operator": "op1",
        "outcome": "answered",
        "message_path": None,
        "message_at": None,
        "failure_reason": None,
        "failed_at": None,
        "route": "operators",
        "updated_at": START + timedelta(seconds=95),
    }
    values.update(changes)
    return CallRecord(**values)  # type: ignore[arg-type]


def test_table_aligns_columns_and_shows_local_time_to_the_second():
    rows = [record(), record("1732640001.7", caller_name="Zoë 山田", operator=None)]

    lines = format_table(rows, zones={"rossi": ZoneInfo("Europe/Rome")}).splitlines()

    assert lines[0].split() == [
        "when", "linkedid", "client", "called", "caller", "number", "caller", "name",
        "outcome", "operator", "message", "path",
    ]  # fmt: skip
    assert len(lines) == 3
    # 16:53:20 UTC is 17:53:20 in Rome (CET, winter), whatever this machine's zone is.
    assert lines[1].startswith("2024-11-26T17:53:20 CET  1732640000.1")
    # Every column starts at the same place on every line (山田 takes four columns).
    outcome_at = lines[0].index("outcome")
    assert lines[1][outcome_at:].startswith("answered")
    assert lines[2][outcome_at - 2 :].startswith("answered")


def test_table_escapes_control_characters_and_clips_long_fields():
    text = format_table([record(caller_name=HOSTILE, message_path="/srv/" + "x" * 200)])

    lines = text.splitlines()
    assert len(lines) == 2  # the caller's newline did not make a line of its own
    assert "\x1b" not in text and "\u202e" not in text and "\t" not in text
    assert "Eve\\n2024-01-01 fake li…  answered" in lines[1]  # clipped to 24 columns
    assert lines[1].endswith("  /srv/" + "x" * 42 + "…")  # clipped to 48 columns


def test_json_parses_back_with_iso_times():
    rows = [record(caller_name=HOSTILE), record("2", outcome="message-left", message_path="/m/2")]

    data = json.loads(format_json(rows))

    assert [item["linkedid"] for item in data] == ["1732640000.1", "2"]
    assert data[0]["caller_name"] == HOSTILE
    assert datetime.fromisoformat(data[0]["arrived_at"]) == START
    assert data[1]["message_path"] == "/m/2" and data[1]["failed_at"] is None


def test_csv_guards_against_formulas_and_round_trips_the_rest():
    rows = [
        record(caller_name='=HYPERLINK("http://evil")', caller_number="+3395551234"),
        record("2", caller_name="@SUM(A1)", client_name="-2+3", called="\tcmd", operator="op,1"),
    ]

    parsed = list(csv.DictReader(io.StringIO(format_csv(rows))))

    assert parsed[0]["caller_name"] == '\'=HYPERLINK("http://evil")'
    assert parsed[0]["caller_number"] == "'+3395551234"
    assert parsed[1]["caller_name"] == "'@SUM(A1)"
    assert parsed[1]["client_name"] == "'-2+3"
    assert parsed[1]["called"] == "'\tcmd"
    assert parsed[1]["operator"] == "op,1"
    assert parsed[0]["arrived_at"] == START.isoformat()
    assert parsed[0]["message_path"] == ""


def test_calls_command_prints_the_database(tmp_path, monkeypatch, capsys):
    url = f"sqlite+aiosqlite:///{tmp_path}/var/demo/ivr.db"
    for name, value in {
        "IVR_HOME": str(tmp_path),
        "IVR_DB_URL": url,
        "IVR_ASTERISK_ROOT": str(tmp_path / "root"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("IVR_CONFIG", raising=False)

    async def seed() -> None:
        await upgrade(url)
        engine = make_engine(url)
        try:
            sm = session_factory(engine)
            for n, client in enumerate(["rossi", "bianchi", "rossi"]):
                await open_call(
                    sm,
                    linkedid=f"1732640000.{n}",
                    channel="PJSIP/trunk-00000001",
                    client_id=client,
                    client_name=client.title(),
                    called="390612345678",
                    caller_number="=1+1",
                    caller_name=HOSTILE,
                    arrived_at=START + timedelta(minutes=n),
                    route="operators",
                )
        finally:
            await engine.dispose()

    asyncio.run(seed())
    parser = argparse.ArgumentParser(prog="ivr")
    register(parser.add_subparsers(dest="command", required=True), client_zones)

    args = parser.parse_args(["calls", "--json", "--client", "rossi"])
    assert args.func(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert [item["linkedid"] for item in data] == ["1732640000.2", "1732640000.0"]

    args = parser.parse_args(["calls", "--csv", "--limit", "1"])
    assert args.func(args) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["linkedid"], r["caller_number"]) for r in rows] == [("1732640000.2", "'=1+1")]

    args = parser.parse_args(["calls"])
    assert args.func(args) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4

    with pytest.raises(SystemExit):
        parser.parse_args(["calls", "--json", "--csv"])
    with pytest.raises(SystemExit):
        parser.parse_args(["calls", "--limit", "0"])


def test_table_shows_each_call_in_its_own_clients_zone():
    rome = record(client_id="rossi")
    york = record("2", client_id="smith", arrived_at=START)
    unknown = record("3", client_id="gone")
    zones = {"rossi": ZoneInfo("Europe/Rome"), "smith": ZoneInfo("America/New_York")}

    lines = format_table([rome, york, unknown], zones=zones).splitlines()

    assert lines[1].startswith("2024-11-26T17:53:20 CET ")
    assert lines[2].startswith("2024-11-26T11:53:20 EST ")
    machine = START.astimezone()  # a client the rules no longer know: this machine's zone
    assert lines[3].startswith(machine.replace(tzinfo=None).isoformat("T", "seconds"))


def test_json_carries_the_fields_a_script_asked():
    from ivr.records.fields import Answer

    answers = {"2": [Answer("ref", "Riferimento", "MI-1234", "MI-1234"),
                     Answer("want", "Tipo", "rent", "Affitto")]}  # fmt: skip
    data = json.loads(format_json([record(), record("2")], None, answers))
    assert data[0]["fields"] == {}
    assert data[1]["fields"] == {
        "ref": {"label": "Riferimento", "value": "MI-1234", "shown": "MI-1234"},
        "want": {"label": "Tipo", "value": "rent", "shown": "Affitto"},
    }
    assert list(data[1]["fields"]) == ["ref", "want"]  # in the order asked
