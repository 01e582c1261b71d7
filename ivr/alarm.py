"""Sleep until the next due time or until woken: schedulers without polling loops.

A scheduler (escalation ladders, outbound campaigns) does what is due, works out when the
next thing falls due, and sleeps until then, or until someone stores new work and wakes it.
With nothing due it sleeps for good: an idle engine spends no CPU on it.

    alarm = services.alarms.get("escalations")
    await run_schedule("escalations", step, alarm)   # step() -> seconds to the next due, or None
    ...
    services.alarms.wake("escalations")              # a new job was stored: wakes the
                                                     # scheduler of that name in whichever
                                                     # engine runs it (ivr/wake.py Wakeups)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ivr.wake import Wakeups

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[float | None]]


class Alarm:
    """One scheduler's alarm clock: sleep(delay) returns after `delay` seconds or on wake()."""

    def __init__(self) -> None:
        self._woken = asyncio.Event()
        self.wakes = 0  # how many times it was woken early (for tests and status)

    def wake(self) -> None:
        """New work: the sleeper looks again now. Safe before it sleeps (it will not sleep)."""
        self.wakes += 1
        self._woken.set()

    async def sleep(self, delay: float | None) -> bool:
        """Sleep `delay` seconds (None: until woken); True if woken early."""
        try:
            if delay is None:
                await self._woken.wait()
                return True
            if delay <= 0:
                return self._woken.is_set()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._woken.wait()
                    return True
            return False
        finally:
            self._woken.clear()


def _waker(alarm: Alarm) -> Callable[[str], None]:
    return lambda _payload: alarm.wake()


TOPIC = "alarm."  # the wake-up topic of alarm NAME is alarm.NAME


class Alarms:
    """The engine's alarms by name, so that whoever stores work can wake its scheduler.

    With wake-ups between engines (ivr/wake.py on PostgreSQL) wake(NAME) reaches the alarm
    NAME in every engine: a ladder stored by one engine wakes the one that runs the ladders.
    """

    def __init__(self, wakeups: Wakeups | None = None) -> None:
        self._alarms: dict[str, Alarm] = {}
        self.wakeups = wakeups
        self._sending: set[asyncio.Task[None]] = set()

    def get(self, name: str) -> Alarm:
        found = self._alarms.get(name)
        if found is None:
            found = self._alarms[name] = Alarm()
            if self.wakeups is not None:
                self.wakeups.on(TOPIC + name, _waker(found))
        return found

    def wake(self, name: str) -> bool:
        """Wake the scheduler `name` wherever it runs; False if no engine is known to have
        one of that name (this engine has none and there is no other engine to tell)."""
        wakeups = self.wakeups
        if wakeups is not None and wakeups.relay is not None:
            try:
                task = asyncio.get_running_loop().create_task(wakeups.send(TOPIC + name))
            except RuntimeError:  # no loop (a command-line tool): nobody to wake here
                return False
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
            return True
        found = self._alarms.get(name)
        if found is not None:
            found.wake()
        return found is not None


async def run_schedule(
    name: str, step: Step, alarm: Alarm, *, retry: float = 5.0, minimum: float = 0.01
) -> None:
    """Forever: run step(), then sleep until the delay it returns or until woken.

    A step that raises is logged and tried again after `retry` seconds (or when woken).
    """
    while True:
        try:
            delay = await step()
        except Exception:
            log.exception("%s: a scheduled step failed", name)
            delay = retry
        await alarm.sleep(None if delay is None else max(delay, minimum))
