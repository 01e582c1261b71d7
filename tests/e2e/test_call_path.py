"""A diverted call through the real Asterisk 22, the engine and real SIP (sipp)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.ami.message import unescape_c
from ivr.harness.stack import AmiEvents as Events
from ivr.harness.stack import Stack

pytestmark = pytest.mark.e2e
ACME = "0611000001"
NEVER = 3_600_000  # ring_ms of a phone nobody picks up


async def test_answered_call_is_recorded_with_its_operator(stack: Stack) -> None:
    await stack.phone("op1", ring_ms=200)
    await stack.phone("op2", ring_ms=NEVER)

    result = await stack.call(ACME, caller_num="0612345678", caller_name="Maria Bianchi")

    assert result.ok, result.output[-1500:]
    record = await stack.wait_record(lambda r: r.ended_at is not None)
    assert record.outcome == "answered"
    assert record.operator == "op1"
    assert record.client_id == "acme"
    assert record.called == ACME
    assert record.caller_number == "0612345678"
    assert record.caller_name == "Maria Bianchi"
    assert record.arrived_at <= record.answered_at <= record.ended_at
    assert record.route == "operators"


async def test_unanswered_call_leaves_a_recorded_message(stack: Stack) -> None:
    await stack.phone("op1", ring_ms=NEVER)
    await stack.phone("op2", ring_ms=NEVER)

    # 3 s of ringing, the prompt, the beep, then a few seconds of message before hanging up.
    result = await stack.call(ACME, caller_num="0612000111", hold_ms=9000, timeout=60)

    assert result.ok, result.output[-1500:]
    record = await stack.wait_record(lambda r: r.ended_at is not None)
    assert record.outcome == "message-left"
    assert record.operator is None
    assert record.message_path is not None
    assert record.message_path.startswith(f"{stack.settings.run_dir}/messages/acme/")
    on_disk = stack.settings.host_path(Path(record.message_path))
    assert on_disk.exists() and on_disk.read_bytes()[:4] == b"RIFF"


async def test_engine_down_the_fallback_operators_still_answer(stack: Stack) -> None:
    await stack.phone("op1", ring_ms=200)  # would answer if the engine routed the call
    await stack.phone("op3", ring_ms=200)  # the fallback group
    await stack.stop_engine()

    async with Events(stack) as events:
        result = await stack.call(ACME, caller_num="0612999000", hold_ms=1000)
        failure = await events.wait(lambda e: e.get("UserEvent") == "IvrFailure")
        answered = await events.wait(
            lambda e: e.event == "DialEnd" and e.get("DialStatus") == "ANSWER"
        )

    assert result.ok, result.output[-1500:]
    assert failure["Context"] == "ivr-in-failure"
    # manager.conf lets through only what the engine listens to: no event per dialplan step.
    assert not events.all(lambda e: e.event in {"Newexten", "VarSet", "Newstate"})
    assert events.all(lambda e: e.event == "Newchannel")
    assert failure["Reason"].startswith("engine")
    assert answered["DestChannel"].startswith("PJSIP/op3-")
    assert answered["CallerIDNum"] == "0612999000"


HOSTILE = 'Mario \\"Boss\\"; DROP TABLE calls;-- \\n HANGUP <script>alert(1)</script>'


async def test_hostile_caller_name_is_stored_harmlessly(stack: Stack) -> None:
    await stack.phone("op1", ring_ms=200)

    async with Events(stack) as events:
        first = await stack.call(ACME, caller_num="0612555000", caller_name=HOSTILE)
        arrived = await events.wait(lambda e: e.event == "Newchannel" and e.get("Exten") == ACME)
        dialed = await events.wait(lambda e: e.event == "DialEnd")
    record = await stack.wait_record(lambda r: r.ended_at is not None)

    assert first.ok, first.output[-1500:]
    # Stored exactly as the caller sent it (AMI C-escapes names; SIP keeps its backslashes):
    # nothing cut, nothing executed.
    assert record.caller_name == unescape_c(arrived["CallerIDName"])
    assert record.caller_name == HOSTILE
    assert "DROP TABLE calls" in record.caller_name and "<script>" in record.caller_name
    assert record.outcome == "answered" and record.operator == "op1"
    # The operator's phone shows the client's name first; the quoting survived the AGI line.
    assert unescape_c(dialed["CallerIDName"]).startswith('Acme Plumbing: Mario \\"Boss')
    # The table is intact and the next call is recorded as usual; a plain name reaches the
    # operator's phone the same way (set in the one MSet of the route's plain values).
    async with Events(stack) as events:
        second = await stack.call(ACME, caller_num="0612555001", caller_name="Next Caller")
        shown = await events.wait(
            lambda e: e.event == "DialEnd" and e.get("CallerIDNum") == "0612555001"
        )
    assert second.ok
    assert shown["CallerIDName"] == "Acme Plumbing: Next Caller"
    await stack.wait_record(lambda r: r.caller_number == "0612555001" and r.outcome == "answered")


async def test_engine_reconnects_to_ami_when_asterisk_restarts(stack: Stack) -> None:
    await stack.asterisk.stop()
    await stack.wait_for(lambda s: not s["ami"]["connected"], 20, "the engine to see AMI go")
    await stack.asterisk.start()
    await stack.wait_for(lambda s: s["ami"]["connected"], 30, "the engine to log in again")

    await stack.phone("op1", ring_ms=200)
    result = await stack.call(ACME, caller_num="0612777000")

    assert result.ok, result.output[-1500:]
    record = await stack.wait_record(lambda r: r.ended_at is not None)
    # Built from the new connection's events: answered by op1, and ended.
    assert (record.outcome, record.operator, record.caller_number) == (
        "answered",
        "op1",
        "0612777000",
    )


async def test_records_go_to_postgresql_when_the_url_says_so(tmp_path, postgres_server) -> None:
    """The multi-node store: the same engine and call, records in a real PostgreSQL."""
    from pg_server import new_database

    from ivr.harness.stack import stack_settings

    url = await new_database(postgres_server)
    settings = stack_settings(tmp_path, Path(__file__).parent / "rules", db_url=url)
    stack = Stack(settings, tmp_path / "work")
    try:
        await stack.start()
        await stack.phone("op1", ring_ms=200)
        result = await stack.call(ACME, caller_num="0612888000", caller_name="Su Postgres")
        assert result.ok, result.output[-1500:]
        record = await stack.wait_record(lambda r: r.ended_at is not None)
    finally:
        await stack.close()
    assert stack.db.dialect.name == "postgresql"
    assert (record.outcome, record.operator, record.caller_name) == (
        "answered",
        "op1",
        "Su Postgres",
    )
