"""Asterisk's account of calls (the CEL file it appends to): read back and rebuilt."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.account.cel import read_account
from ivr.account.rebuild import rebuild
from ivr.records.facts import Facts, blank, merge
from ivr.routing import load_rules

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates

RULES = Path(__file__).resolve().parents[1] / "e2e" / "account" / "rules"


def line(
    kind: str, t: str, uid: str, lid: str, chan: str, ctx: str, exten: str, **more: str
) -> str:
    values = [
        kind,
        t,
        uid,
        lid,
        chan,
        ctx,
        exten,
        more.get("num", "0612345678"),
        more.get("name", "Caller"),
        more.get("app", ""),
        more.get("data", ""),
    ]
    return ",".join('"' + v.replace('"', '""') + '"' for v in values) + "\n"


ANSWERED = [
    line("CHAN_START", "100.5", "100.0", "100.0", "PJSIP/trunk-0001", "ivr-in-trunk", "0611000001"),
    line("CHAN_START", "100.6", "100.1", "100.0", "PJSIP/op1-0002", "ivr-operators", "s"),
    line("ANSWER", "103.25", "100.1", "100.0", "PJSIP/op1-0002", "ivr-operators", "s"),
    line("ANSWER", "103.26", "100.0", "100.0", "PJSIP/trunk-0001", "ivr-in-route", "operators"),
    line("LINKEDID_END", "130.0", "100.0", "100.0", "PJSIP/trunk-0001", "ivr-in-route", "h"),
]
MESSAGE = [
    line("CHAN_START", "200", "200.0", "200.0", "PJSIP/trunk-0003", "ivr-in-trunk", "06 1100 0001"),
    line("ANSWER", "203", "200.0", "200.0", "PJSIP/trunk-0003", "ivr-in-message", "s"),
    line(
        "APP_START",
        "209",
        "200.0",
        "200.0",
        "PJSIP/trunk-0003",
        "ivr-in-message",
        "s",
        app="Record",
        data="/srv/ivr/x/messages/acme/200.0.wav,5,120,k",
    ),  # fmt: skip
    line("LINKEDID_END", "230", "200.0", "200.0", "PJSIP/trunk-0003", "ivr-in-message", "h"),
]
OUTBOUND = [
    line("CHAN_START", "300", "300.0", "300.0", "PJSIP/trunk-0009", "ivr-out-escalation", "s"),
    line("LINKEDID_END", "330", "300.0", "300.0", "PJSIP/trunk-0009", "ivr-out-escalation", "h"),
]


def folded(facts: Facts) -> dict:
    values = blank()
    values.update(merge(values, facts))
    return values


def test_calls_are_read_back_whole_and_grouped(tmp_path):
    path = tmp_path / "cel.csv"
    odd = line(
        "CHAN_START", "400", "400.0", "400.0", "PJSIP/trunk-7", "ivr-in-trunk", "1",
        name='Mario "Boss",\nRossi',
    )  # fmt: skip
    path.write_text("".join(ANSWERED + MESSAGE + OUTBOUND) + odd)

    calls, end = read_account(path, 0)

    assert set(calls) == {"100.0", "200.0", "300.0", "400.0"}
    assert end == path.stat().st_size
    assert [e.kind for e in calls["100.0"].events][-1] == "LINKEDID_END"
    assert calls["400.0"].start is not None
    assert calls["400.0"].start.caller_name == 'Mario "Boss",\nRossi'
    assert calls["200.0"].first_position == len("".join(ANSWERED).encode())


def test_a_record_being_written_is_left_for_the_next_read(tmp_path):
    path = tmp_path / "cel.csv"
    whole = "".join(ANSWERED)
    half = MESSAGE[0][:30]  # Asterisk is appending this line right now
    path.write_text(whole + half)

    calls, end = read_account(path, 0)
    assert set(calls) == {"100.0"} and end == len(whole.encode())

    path.write_text(whole + "".join(MESSAGE))
    calls, end = read_account(path, end)
    assert set(calls) == {"200.0"} and end == path.stat().st_size


def test_a_rotated_file_is_read_from_its_start_and_a_missing_one_is_empty(tmp_path):
    path = tmp_path / "cel.csv"
    path.write_text("".join(OUTBOUND))
    calls, end = read_account(path, 10_000)
    assert set(calls) == {"300.0"}
    assert read_account(tmp_path / "none.csv", 5) == ({}, 0)


def test_rebuild_an_answered_call_from_the_account(tmp_path):
    path = tmp_path / "cel.csv"
    path.write_text("".join(ANSWERED))
    calls, _ = read_account(path, 0)
    rules = load_rules(RULES)

    fact = rebuild(calls["100.0"], rules, lambda _: False)

    assert fact is not None and fact.only_open and fact.source == "account"
    values = folded(fact.facts)
    assert (values["client_id"], values["client_name"]) == ("acme", "Acme Plumbing")
    assert (values["outcome"], values["operator"], values["rebuilt"]) == ("answered", "op1", True)
    assert values["answered_at"].timestamp() == 103.25
    assert values["ended_at"].timestamp() == 130.0
    assert values["caller_number"] == "0612345678"


def test_rebuild_a_message_only_when_its_file_exists(tmp_path):
    path = tmp_path / "cel.csv"
    path.write_text("".join(MESSAGE))
    calls, _ = read_account(path, 0)
    rules = load_rules(RULES)

    kept = folded(rebuild(calls["200.0"], rules, lambda p: p.endswith("200.0.wav")).facts)
    lost = folded(rebuild(calls["200.0"], rules, lambda p: False).facts)

    assert kept["outcome"] == "message-left"
    assert kept["message_path"] == "/srv/ivr/x/messages/acme/200.0.wav"
    assert kept["client_id"] == "acme" and kept["called"] == "0611000001"
    assert lost["outcome"] == "abandoned"


def test_rebuild_ignores_other_calls_and_closes_one_that_never_ended(tmp_path):
    path = tmp_path / "cel.csv"
    path.write_text("".join(OUTBOUND) + "".join(ANSWERED[:3]))
    calls, _ = read_account(path, 0)
    rules = load_rules(RULES)

    assert rebuild(calls["300.0"], rules, lambda _: False) is None
    cut = folded(rebuild(calls["100.0"], rules, lambda _: False).facts)
    assert cut["outcome"] == "answered"
    assert cut["end_inferred"] and cut["ended_at"].timestamp() == 103.25  # its last event


def test_a_call_the_engine_placed_is_not_an_inbound_call(tmp_path):
    """An escalation's call leaves through the trunk, whose endpoint context is inbound."""
    placed = (
        line("CHAN_START", "500", "500.0", "500.0", "PJSIP/trunk-0011", "ivr-in-trunk", "s").rstrip(
            "\n"
        )
        + ',"esc-7"\n'
    )
    path = tmp_path / "cel.csv"
    path.write_text(placed)
    calls, _ = read_account(path, 0)
    assert calls["500.0"].start.account == "esc-7"
    assert rebuild(calls["500.0"], load_rules(RULES), lambda _: False) is None


def test_a_person_rung_to_take_a_caller_is_not_an_inbound_call(tmp_path):
    """A put-through's leg has no account code (a caller bridged with it would inherit it):
    its unique id says the engine placed it."""
    uid = "ivr-out-pt-3-1"
    path = tmp_path / "cel.csv"
    path.write_text(line("CHAN_START", "500", uid, uid, "PJSIP/trunk-0012", "ivr-in-trunk", "s"))
    calls, _ = read_account(path, 0)
    assert calls[uid].start.account == ""
    assert rebuild(calls[uid], load_rules(RULES), lambda _: False) is None
