"""Fixtures for tests through the real Asterisk: nothing here skips. A missing Asterisk or
sipp is an error, because a test that did not run proves nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.asterisk.provision import provision
from ivr.stack import Stack, stack_settings

RULES = Path(__file__).resolve().parent / "rules"


@pytest.fixture(scope="session", autouse=True)
def asterisk_available() -> None:
    """Provision (a no-op when cached) so a missing Asterisk fails loudly, once."""
    provision()


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    running = Stack(stack_settings(tmp_path, RULES), tmp_path / "work")
    try:
        await running.start()
        yield running
    finally:
        await running.close()
