"""Fixtures for the whole suite: nothing here skips. A missing Asterisk, sipp or PostgreSQL
is an error, because a test that did not run proves nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from pg_server import postgres_server

from ivr.asterisk.provision import provision
from ivr.harness.stack import Stack, stack_settings

__all__ = ["postgres_server"]


@pytest.fixture(scope="session")
def asterisk_available() -> None:
    """Provision (a no-op when cached) so a missing Asterisk fails loudly, once."""
    provision()


@pytest.fixture
def rules_folder() -> Path:
    """The routing rules a test's stack runs on; a module overrides it with its own."""
    return Path(__file__).resolve().parent / "e2e" / "rules"


@pytest_asyncio.fixture
async def stack(
    tmp_path: Path, rules_folder: Path, asterisk_available: None
) -> AsyncIterator[Stack]:
    """A real Asterisk 22 and `ivr serve` of their own, on the rules of `rules_folder`."""
    running = Stack(stack_settings(tmp_path, rules_folder), tmp_path / "work")
    try:
        await running.start()
        yield running
    finally:
        await running.close()
