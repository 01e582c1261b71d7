"""The one clock: the only place the engine reads the machine's time of day. Everything else
takes "now" from the services' clock (Services.clock, built here by clock_of) or from a clock
passed in; intervals may use time.monotonic()."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ivr.config import Settings

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def clock_of(settings: Settings) -> Clock:
    """The engine's clock: the real time, or one that starts at settings.clock_start and runs
    on at the real pace (a test's "Saturday 19:01" in a real `ivr serve`)."""
    if not settings.clock_start:
        return utcnow
    start = datetime.fromisoformat(settings.clock_start).astimezone(UTC)
    origin = time.monotonic()

    def clock() -> datetime:
        return start + timedelta(seconds=time.monotonic() - origin)

    return clock
