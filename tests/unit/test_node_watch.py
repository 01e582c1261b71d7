"""A node's engine answering Kamailio's pings; a cut call's end folded from several closers;
a call the engine never handled rebuilt from the account as the fallback's."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ivr.account.cel import BLANKED, FILE_NAME, CallAccount, CelEvent, first_time
from ivr.account.privacy import blank_old
from ivr.account.rebuild import FALLBACK_ROUTE, rebuild
from ivr.nodes.probe import answer
from ivr.records.facts import Facts, blank, merge
from ivr.routing import load_rules

RULES = Path(__file__).resolve().parents[1] / "e2e" / "account" / "rules"

OPTIONS = (
    b"OPTIONS sip:127.0.0.1:16360 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:16000;branch=z9hG4bK1\r\n"
    b"From: <sip:kamailio@127.0.0.1:16000>;tag=abc\r\n"
    b"To: <sip:127.0.0.1:16360>\r\n"
    b"Call-ID: 42@127.0.0.1\r\n"
    b"CSeq: 10 OPTIONS\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_options_gets_a_200_echoing_the_transaction() -> None:
    reply = answer(OPTIONS)
    assert reply is not None
    lines = reply.decode().split("\r\n")
    assert lines[0] == "SIP/2.0 200 OK"
    assert "Via: SIP/2.0/UDP 127.0.0.1:16000;branch=z9hG4bK1" in lines
    assert "Call-ID: 42@127.0.0.1" in lines and "CSeq: 10 OPTIONS" in lines
    assert any(line.startswith("To: <sip:127.0.0.1:16360>;tag=") for line in lines)


def test_anything_but_options_gets_no_answer() -> None:
    assert answer(OPTIONS.replace(b"OPTIONS sip", b"INVITE sip")) is None
    assert answer(b"\xff\xfe") is None
    assert answer(b"OPTIONS sip:x SIP/2.0\r\n\r\n") is None  # no Call-ID, no To


def test_a_cut_call_ends_at_the_latest_moment_known_alive_in_any_order() -> None:
    t0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    heartbeat, account = t0 + timedelta(seconds=5), t0 + timedelta(seconds=3)
    base = blank() | {"arrived_at": t0}
    for first, second in ((heartbeat, account), (account, heartbeat)):
        values = dict(base)
        values.update(merge(values, Facts(closed_at=first)))
        values.update(merge(values, Facts(closed_at=second)))
        assert values["ended_at"] == heartbeat and values["end_inferred"]
    # the account saying it ended normally wins over either guess
    values = dict(base)
    values.update(merge(values, Facts(closed_at=heartbeat)))
    values.update(merge(values, Facts(ended_at=account)))
    assert values["ended_at"] == account and not values["end_inferred"]


def _event(kind: str, at: datetime, **kw: str) -> CelEvent:
    values = dict(uniqueid="n-1", linkedid="n-1", channel="PJSIP/trunk-1",
                  context="ivr-in-trunk",
                  exten="0611000001", caller_number="0399", caller_name="C", app="",
                  app_data="")  # fmt: skip
    values.update(kw)
    return CelEvent(kind=kind, at=at, **values)


def test_a_call_through_the_failure_context_says_the_engine_was_down() -> None:
    t0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    account = CallAccount("n-1", 0, [
        _event("CHAN_START", t0),
        _event("APP_START", t0 + timedelta(seconds=1), app="NoOp", context="ivr-in-failure",
               app_data="engine unavailable: AGISTATUS=FAILURE reason="),
        _event("LINKEDID_END", t0 + timedelta(seconds=9)),
    ])  # fmt: skip

    fact = rebuild(account, load_rules(RULES), lambda _path: False)

    assert fact is not None
    assert fact.facts.identity["route"] == FALLBACK_ROUTE
    assert (
        fact.facts.failure_reason is not None and "AGISTATUS=FAILURE" in fact.facts.failure_reason
    )
    assert fact.facts.failed_at == t0 + timedelta(seconds=1)


def _line(at: datetime, number: str) -> bytes:
    values = ["CHAN_START", f"{at.timestamp():.6f}", "u1", "u1", "PJSIP/trunk-1", "ivr-in-trunk",
              "0611000001", number, "Maria", "", "", ""]  # fmt: skip
    return (",".join(f'"{v}"' for v in values) + "\n").encode()


def test_the_purge_reads_only_the_account_files_that_may_hold_an_old_line(tmp_path: Path) -> None:
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    cutoff = now - timedelta(days=30)
    current = tmp_path / FILE_NAME
    old = tmp_path / f"{FILE_NAME}.20261001T000000"
    old.write_bytes(_line(now - timedelta(days=60), "0399000001"))
    os.utime(old, (cutoff.timestamp() - 3600,) * 2)  # closed before the cutoff
    recent = tmp_path / f"{FILE_NAME}.20261206T000000"
    recent.write_bytes(_line(now - timedelta(days=1), "0399000002"))
    current.write_bytes(_line(now, "0399000003"))

    assert blank_old(current, cutoff) == 1
    assert not old.exists() and b"0399000001" not in (tmp_path / (old.name + BLANKED)).read_bytes()
    assert b"0399000002" in recent.read_bytes() and b"0399000003" in current.read_bytes()
    # blanked once: never read again
    assert blank_old(current, cutoff) == 0
    assert first_time(recent) == now - timedelta(days=1)
