"""A script's answers as rows of their own: saved, replaced, read back in order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest_asyncio
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ivr.records import fields
from ivr.records.db import make_engine, session_factory, upgrade
from ivr.records.models import Base

T0 = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)


@pytest_asyncio.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[fields.Sessions]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}"
    await upgrade(url)
    engine = make_engine(url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def test_the_table_matches_the_migration(sessions: fields.Sessions) -> None:
    async with sessions() as session:
        connection = await session.connection()
        diff = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    assert [d for d in diff if "call_fields" in repr(d)] == []


async def test_answers_are_replaced_and_read_in_order(sessions: fields.Sessions) -> None:
    first = [
        fields.Answer("ref", "Riferimento", "MI-1234", "MI-1234"),
        fields.Answer("kind", "Tipo", "rent", "Affitto"),
    ]
    async with sessions.begin() as session:
        await fields.replace_fields(session, "1.1", "casa", first, T0)
    async with sessions.begin() as session:
        await fields.replace_fields(session, "1.2", "casa", first[1:], T0)
    async with sessions.begin() as session:  # a correction replaces the call's answers
        await fields.replace_fields(session, "1.2", "casa", [*first[1:], first[0]], T0)
    found = await fields.fields_for(sessions, ["1.1", "1.2", "1.3"])
    assert found == {"1.1": first, "1.2": [first[1], first[0]]}
    assert fields.columns(list(found.values())) == [("ref", "Riferimento"), ("kind", "Tipo")]
