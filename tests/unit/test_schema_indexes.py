"""The indexes the models declare are the ones the migrations build, on SQLite and on a real
PostgreSQL: an index added to a model without its migration would exist in no database."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from pg_server import new_database
from sqlalchemy import inspect, text

from ivr.records.db import make_engine, upgrade
from ivr.records.models import Base

ROOT = Path(__file__).resolve().parents[2]


def model_modules() -> list[str]:
    """Every module of ivr/ that declares a table (they share Base's metadata)."""
    return sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in (ROOT / "ivr").rglob("*.py")
        if "migrations" not in path.parts and "(Base):" in path.read_text()
    )


def declared() -> dict[str, dict[str, list[str]]]:
    for name in model_modules():
        importlib.import_module(name)
    return {
        table.name: {
            str(index.name): [column.name for column in index.columns] for index in table.indexes
        }
        for table in Base.metadata.sorted_tables
    }


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/ivr.db"
    return await new_database(request.getfixturevalue("postgres_server"))


async def built(db_url: str) -> dict[str, dict[str, list[str]]]:
    await upgrade(db_url)
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: {
                    table: {
                        str(i["name"]): list(i["column_names"])
                        for i in inspect(sync).get_indexes(table)
                    }
                    for table in inspect(sync).get_table_names()
                }
            )
    finally:
        await engine.dispose()


async def test_the_floor_finds_a_numbers_calls_by_index(db_url):
    indexes = await built(db_url)
    assert indexes["campaign_attempts"]["ix_campaign_attempts_number"] == ["number"]
    assert indexes["campaign_contacts"]["ix_campaign_contacts_number"] == ["number"]


async def test_every_declared_index_is_migrated(db_url):
    indexes = await built(db_url)
    missing = [
        f"{table}.{name} {columns}"
        for table, wanted in declared().items()
        for name, columns in wanted.items()
        if indexes.get(table, {}).get(name) != columns
    ]
    assert not missing, missing


async def test_sqlite_plans_the_rest_lookup_on_the_index(tmp_path):
    """The query dialcheck.rests() runs per dial, as SQLite plans it: a search, not a scan."""
    url = f"sqlite+aiosqlite:///{tmp_path}/ivr.db"
    await upgrade(url)
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            plan = (
                await conn.execute(
                    text(
                        "EXPLAIN QUERY PLAN SELECT number, answered_at FROM campaign_attempts"
                        " WHERE number IN ('3331', '3332') AND answered_at IS NOT NULL"
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    detail = " ".join(str(row[-1]) for row in plan)
    assert "USING INDEX ix_campaign_attempts_number" in detail, detail
