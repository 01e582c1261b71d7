"""Engine parts that need "now" take the clock they are given (the services' clock, a test's
moment), never the machine's: a fact with no time of its own, an operator's state on the
board, a queue event without its Timestamp."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ivr.ami.facts import record_events
from ivr.ami.message import Message
from ivr.portal.board import Board
from ivr.portal.store import queue_event_row
from ivr.records.db import make_engine, session_factory, upgrade
from ivr.records.repo import get_call, open_fact
from ivr.records.writer import RecordWriter

MOMENT = datetime(2031, 12, 24, 18, 30, tzinfo=UTC)  # far from the machine's today


def moment() -> datetime:
    return MOMENT


async def test_the_records_writer_dates_an_untimed_event_by_its_clock(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/ivr.db"
    await upgrade(url)
    writer = RecordWriter(url, clock=moment)
    await writer.start()
    try:
        opened = open_fact(linkedid="c.1", channel="PJSIP/trunk-1", client_id="rossi",
                           client_name="Rossi", called="06", caller_number="333",
                           caller_name="", arrived_at=MOMENT, route="operators")  # fmt: skip
        writer.submit([opened])
        hangup = Message({"Event": "Hangup", "Linkedid": "c.1", "Uniqueid": "c.1",
                          "Context": "ivr-in-route", "Cause": "16"})  # fmt: skip
        assert await writer.wait_written(record_events(writer, [hangup]), 10)
    finally:
        await writer.close()
    engine = make_engine(url)
    try:
        call = await get_call(session_factory(engine), "c.1")
    finally:
        await engine.dispose()
    assert call is not None and call.ended_at == MOMENT


def test_the_board_times_an_operator_by_its_clock() -> None:
    board = Board(lambda endpoint: endpoint, moment)
    assert board.live("op1").since == MOMENT


def test_a_queue_event_without_its_timestamp_is_dated_by_the_clock() -> None:
    row = queue_event_row({"Event": "QueueCallerJoin", "Queue": "q1", "Linkedid": "c.2"}, moment)
    assert row is not None and row["at"] == MOMENT
