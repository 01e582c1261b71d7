"""Fixtures of the billing tests (the world itself is in billing_world.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from billing_world import World, make_world


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    made = await make_world(tmp_path)
    try:
        yield made
    finally:
        await made.engine.dispose()
