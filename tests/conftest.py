"""Fixtures for the whole suite: nothing here skips. A missing Asterisk, sipp or PostgreSQL
is an error, because a test that did not run proves nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest
import pytest_asyncio
from pg_server import postgres_server

from ivr.asterisk.provision import provision
from ivr.harness.stack import Stack, stack_settings

__all__ = ["postgres_server"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--at",
        default="",
        help="run at this ISO instant (with its offset): the test process's clock starts "
        "there and ticks on (tests/anyday runs the tests marked anyday so at fixed dates)",
    )


@pytest.fixture(scope="session", autouse=True)
def suite_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    """--at: datetime.now, date.today and time.time of this process start at that instant
    (time-machine; the event loop's monotonic clock is untouched, so timeouts stay real)."""
    at = request.config.getoption("--at")
    if not at:
        yield
        return
    import time_machine

    start = datetime.fromisoformat(at)
    if start.tzinfo is None:
        raise pytest.UsageError("--at needs an offset: 2026-12-08T10:00:00+01:00")
    with time_machine.travel(start, tick=True):
        yield


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes() -> Iterator[None]:
    """The client area's passwords hashed in this process with argon2-cffi's profile for tests
    (CHEAPEST: 8 KiB, one pass) instead of the recommended 64 MiB and three passes, about a
    second a hash on this machine. Logins, resets and refusals run as they do for real; the
    engines that the end-to-end tests start as processes of their own keep the real cost."""
    from argon2 import PasswordHasher, profiles

    from ivr.area import users

    cheap = PasswordHasher.from_parameters(profiles.CHEAPEST)
    patch = pytest.MonkeyPatch()
    patch.setattr(users, "HASHER", cheap)
    patch.setattr(users, "_DUMMY", cheap.hash("no such user: this hash is never matched"))
    yield
    patch.undo()


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
