"""Escalation rows on a real SQLite file: idempotent start, one attempt per slot, the first
outcome wins, an acknowledgement counts once; and what `ivr escalations` and the mail show."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import ivr.escalation.models  # noqa: F401  (the tables join Base.metadata)
from ivr.config import Settings
from ivr.escalation import mail, report, store
from ivr.escalation.ladder import ACKNOWLEDGED, ANSWERED, NO_ANSWER, Plan, PlanContact, Slot
from ivr.records.db import make_engine, session_factory, upgrade
from ivr.records.models import Base
from ivr.routing.model import Contact, Ladder

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates

T0 = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
HOSTILE = 'Mario "Boss"\r\nBcc: everyone@example.org\x1b[2J'


@pytest_asyncio.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[store.Sessions]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}"
    await upgrade(url)
    engine = make_engine(url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def _start(sessions: Any, linkedid: str = "1.1", ladder: str = "night") -> int:
    return await store.start_escalation(
        sessions,
        linkedid=linkedid,
        client_id="rossi",
        ladder=ladder,
        message_path="/srv/ivr/x/messages/rossi/1.1.wav",
        caller_name="Maria",
        callback="0612345678",
        now=T0,
    )


async def test_the_tables_match_the_migration(sessions: store.Sessions) -> None:
    async with sessions() as session:
        connection = await session.connection()
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    mine = [d for d in diff if "escalation_" in repr(d)]  # other features own other tables
    assert mine == []


async def test_the_same_trigger_twice_starts_one_run(sessions: store.Sessions) -> None:
    first = await _start(sessions)
    again = await _start(sessions)
    other = await _start(sessions, ladder="day")

    assert first == again != other
    runs = await store.runs_for_call(sessions, "1.1")
    assert [r.ladder for r in runs] == ["night", "day"]
    assert runs[0].plan is None and runs[0].status == "running"  # the engine resolves it


@dataclass
class _Holder:
    current: Any


@dataclass
class _Services:
    sessions: Any
    rules: _Holder


async def test_started_by_the_engine_the_plan_is_frozen_at_once(sessions: store.Sessions) -> None:
    ladder = Ladder("night", (Contact("Mario", "3331", 15, "m@example.org"),), 2, 1, 30)

    class Rules:
        ladders = {"night": ladder}
        clients: dict[str, Any] = {}

    services = _Services(sessions, _Holder(Rules()))
    run_id = await _start(services)
    [run] = await store.runs_for_call(sessions, "1.1")

    assert run.id == run_id
    assert run.plan == Plan((PlanContact("Mario", "3331", 15, "m@example.org"),), 2, 1, 30)
    with pytest.raises(KeyError):
        await _start(services, linkedid="1.2", ladder="nope")


async def test_a_slot_is_claimed_once(sessions: store.Sessions) -> None:
    run_id = await _start(sessions)
    first = await store.claim_attempt(sessions, run_id, Slot(0, 0, 0), "Mario", "3331", T0)
    again = await store.claim_attempt(sessions, run_id, Slot(0, 0, 0), "Mario", "3331", T0)
    assert first is not None and again is None


async def test_the_first_outcome_wins_but_an_acknowledgement_always_counts_once(
    sessions: store.Sessions,
) -> None:
    run_id = await _start(sessions)
    one = await store.claim_attempt(sessions, run_id, Slot(0, 0, 0), "Mario", "3331", T0)
    two = await store.claim_attempt(sessions, run_id, Slot(0, 1, 0), "Luca", "3332", T0)
    assert one is not None and two is not None
    later = T0 + timedelta(seconds=30)

    assert await store.close_attempt(sessions, one, NO_ANSWER, T0)
    assert not await store.close_attempt(sessions, one, ANSWERED, later)
    await store.mark_answered(sessions, two, T0)
    assert await store.acknowledge(sessions, two, later, "pressed 1")
    assert not await store.acknowledge(sessions, two, later + timedelta(seconds=5), "pressed 1")
    assert not await store.close_attempt(sessions, two, ANSWERED, later)  # the route's finally

    attempts = await store.attempts_for_call(sessions, "1.1")
    assert [(a.contact_name, a.outcome) for a in attempts] == [
        ("Mario", NO_ANSWER),
        ("Luca", ACKNOWLEDGED),
    ]
    [run] = await store.runs_for_call(sessions, "1.1")
    assert run.status == ACKNOWLEDGED
    assert run.acknowledged_by == "Luca" and run.acknowledged_at == later
    assert await store.running(sessions) == []


async def test_attempts_of_another_call_are_not_shown(sessions: store.Sessions) -> None:
    run_id = await _start(sessions, linkedid="9.9")
    await store.claim_attempt(sessions, run_id, Slot(0, 0, 0), "Mario", "3331", T0)
    assert await store.attempts_for_call(sessions, "1.1") == []
    assert len(await store.attempts_for_call(sessions, "9.9")) == 1


def _run(**changes: Any) -> store.RunRecord:
    values: dict[str, Any] = dict(
        id=1, key="1.1|night", linkedid="1.1", client_id="rossi", client_name="Rossi",
        ladder="night", plan=None, message_path=None, caller_name="Maria",
        callback="0612345678", started_at=T0, status="running", ended_at=None,
        acknowledged_at=None, acknowledged_by=None, mailed_at=None, mail_result=None,
    )  # fmt: skip
    values.update(changes)
    return store.RunRecord(**values)


def test_the_mail_names_the_client_and_keeps_a_hostile_caller_on_one_line() -> None:
    plan = Plan((PlanContact("Mario", "3331", 15, "m@example.org"), PlanContact("Luca", "2", 5)))
    message = mail.compose(Settings(mail_from="ivr@example.org"), _run(caller_name=HOSTILE), plan)
    assert message is not None
    assert message["To"] == "m@example.org"
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
    assert message["Subject"].startswith("URGENT: message for Rossi from Mario")
    assert message["Bcc"] is None


async def test_no_smtp_host_no_mail() -> None:
    plan = Plan((PlanContact("Mario", "3331", 15, "m@example.org"),))
    assert await mail.announce(Settings(), _run(), plan) == "not sent: no smtp_host set"


def test_the_report_escapes_what_strangers_wrote() -> None:
    text = report.format_text([(_run(caller_name=HOSTILE), [])])
    assert "\x1b" not in text and "\r" not in text
    assert "\\x1b[2J" in text
    assert report.format_json([(_run(), [])]).startswith("[")
