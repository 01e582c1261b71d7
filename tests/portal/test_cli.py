"""`ivr console password` and `ivr outcomes`."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ivr.__main__ import main
from ivr.portal import store
from ivr.records import db, repo

RULES = Path(__file__).resolve().parents[1] / "e2e" / "queues" / "rules"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}"
    for name, value in {
        "IVR_DB_URL": url,
        "IVR_RULES": str(RULES),
        "IVR_AMI_SECRET": "x",
        "IVR_ASTERISK_ROOT": str(tmp_path),
        "IVR_INSTANCE": "clitest",
        "IVR_PORTAL_PASSWORD_OP1": "from-the-environment",
    }.items():
        monkeypatch.setenv(name, value)
    return url


def test_console_password_of_an_operator(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["console", "password", "op1"]) == 0
    assert capsys.readouterr().out == "from-the-environment\n"
    assert main(["console", "password", "nobody"]) == 2


async def _saved_outcome(url: str) -> None:
    await db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    await repo.open_call(
        sessions,
        linkedid="1700000000.1",
        channel="PJSIP/trunk-1",
        client_id="shop",
        client_name="Corner Shop",
        called="0611000009",
        caller_number="0612000002",
        caller_name="",
        arrived_at=T0,
        route="operators",
    )
    await store.save_outcome(
        sessions,
        store.Outcome(
            linkedid="1700000000.1",
            operator="op1",
            client_id="shop",
            caller_name="Maria\x1b[2J",
            callback="0612000002",
            message="line one\nline two",
            category="callback",
            urgent=True,
            escalation="urgent: no escalation ladder",
            saved_at=T0,
        ),
    )
    await engine.dispose()


def test_outcomes_are_listed_with_escaped_text(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_saved_outcome(env))

    assert main(["outcomes"]) == 0
    table = capsys.readouterr().out
    assert "Corner Shop" in table and "callback" in table and "yes" in table
    assert "Maria\\x1b[2J" in table and "line one\\nline two" in table
    assert "\x1b" not in table

    assert main(["outcomes", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["message"] == "line one\nline two" and rows[0]["urgent"] is True
