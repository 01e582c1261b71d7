"""Calls out that are up in the whole center, not only in this engine: every engine tells the
others how many calls out it has up (a wake-up on the topic "outbound", a PostgreSQL NOTIFY
with several engines), when the number changes and every second; each engine adds up the
others' last word. A word not repeated for EXPIRES seconds is an engine gone: its calls no
longer count.

Why NOTIFY and not a table: the number changes several times a second and means something
only while it is fresh; nothing about it needs keeping. The cap it serves
(outbound_max_calls) is checked where a number is dialled, with no I/O there: this engine's
own calls are counted at once, another engine's within the time its word takes to arrive
(milliseconds on one network); two engines dialling the last line in that same instant
can both get it. While the database is away (a failover), the others' words stop and the
cap counts this engine's calls alone until they come back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ivr.wake import Wakeups

log = logging.getLogger(__name__)

TOPIC = "outbound"
EVERY = 1.0  # seconds between two words of an engine whose count has not changed
EXPIRES = 3.5  # seconds after which an engine's last word no longer counts


class CenterCount:
    """What the other engines last said of their calls out."""

    def __init__(
        self, me: str, wakeups: Wakeups, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.me = me
        self.wakeups = wakeups
        self.clock = clock
        self.heard: dict[str, tuple[int, float]] = {}  # engine -> (calls out up, when heard)
        self.changed = asyncio.Event()
        wakeups.on(TOPIC, self._hear)

    def _hear(self, payload: str) -> None:
        engine, _, up = payload.rpartition(" ")
        if not engine:  # the relay came back: say ours again, theirs will follow
            self.changed.set()
            return
        if engine == self.me:
            return
        try:
            self.heard[engine] = (max(0, int(up)), self.clock())
        except ValueError:
            log.warning("outbound: a count that is not a number from %s: %r", engine, up)

    def others(self) -> int:
        """Calls out up in the other engines, as they last said (expired words dropped)."""
        now = self.clock()
        for engine in [e for e, (_, at) in self.heard.items() if now - at > EXPIRES]:
            del self.heard[engine]
        return sum(up for up, _ in self.heard.values())

    async def run(self, own: Callable[[], int]) -> None:
        """Say this engine's count when it changes and every EVERY seconds, until cancelled."""
        while True:
            self.changed.clear()
            try:  # Wakeups.send falls back to this engine alone when the database is away
                await self.wakeups.send(TOPIC, f"{self.me} {own()}")
            except Exception as exc:
                log.debug("outbound: count not sent: %r", exc)
            try:
                async with asyncio.timeout(EVERY):
                    await self.changed.wait()
            except TimeoutError:
                pass  # the second's repeat keeps this engine's word fresh
