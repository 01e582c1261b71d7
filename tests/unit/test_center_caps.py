"""Caps that hold for the center, not per engine: engines sharing one PostgreSQL (each with
its own connection pool) that start escalation ladders at the same moment never start more
than the per-caller and per-client limits allow between them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pg_server import new_database

import ivr.escalation.models  # noqa: F401  (the tables join Base.metadata)
from ivr import config
from ivr.escalation import store
from ivr.records.db import make_engine, session_factory, upgrade
from ivr.routing.model import Contact, Ladder

T0 = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)  # any moment: the limits count the hour before


@dataclass
class _Holder:
    current: Any


@dataclass
class _Engine:
    """What start_escalation reads of an engine's Services."""

    sessions: Any
    rules: _Holder
    settings: config.Settings


class _Rules:
    ladders = {"night": Ladder("night", (Contact("Mario", "3331", 15, "m@example.org"),), 2, 1, 30)}
    clients: dict[str, Any] = {}


async def _start(engine: _Engine, n: int, caller: str) -> str:
    try:
        await store.start_escalation(
            engine, linkedid=f"call.{n}", client_id="rossi", ladder="night", message_path=None,
            caller_name="Maria", callback=None, caller_number=caller, now=T0,
        )  # fmt: skip
    except store.EscalationRefused:
        return "refused"
    return "started"


async def test_ladders_per_caller_and_per_client_hold_across_engines(postgres_server: str) -> None:
    url = await new_database(postgres_server)
    await upgrade(url)
    settings = config.load(environ={}, escalation_per_caller_hour=2, escalation_per_client_hour=5)
    pools = [make_engine(url) for _ in range(3)]
    try:
        engines = [_Engine(session_factory(p), _Holder(_Rules()), settings) for p in pools]
        # one caller tries 12 times at once, through three engines: two ladders start
        same = await asyncio.gather(*(_start(engines[n % 3], n, "0612345678")
                                      for n in range(12)))  # fmt: skip
        assert same.count("started") == 2, same
        # twelve callers at once for one client: five ladders in the hour, two of them above
        many = await asyncio.gather(*(_start(engines[n % 3], 100 + n, f"06{n:08d}")
                                      for n in range(12)))  # fmt: skip
        assert many.count("started") == 3, many
    finally:
        for pool in pools:
            await pool.dispose()
