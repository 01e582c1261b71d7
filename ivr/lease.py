"""Jobs that run in one engine at a time among engines sharing the database: a scheduler
hands its loop to `services.leases.run(NAME, loop)` instead of starting it itself, and the
loop runs only while this engine holds the lease NAME.

    job = services.leases.run("escalations", lambda: run_schedule(...))
    ...
    await job.close()

On PostgreSQL (several engines) each lease is a row of ivr/records/leases.py: this engine
renews what it holds every `ttl / 3` seconds and takes what nobody holds; a job starts when
its lease is taken and is cancelled when it is lost (the database away for longer than the
lease, another engine has it). An engine that dies holds its leases `ttl` seconds more at
most, then another one takes them: the schedulers keep their whole state in the database
(rows claimed before a call is placed), so the new holder goes on where the dead one
stopped, dialling nobody twice. An engine that stops releases its leases and wakes the
others, which take them at once. On SQLite (one engine) every lease is simply held.

A new scheduler (verification calls, a billing run) plugs in the same way: its own NAME and
its loop; nothing else changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ivr.alarm import Alarm

if TYPE_CHECKING:
    from ivr.records.leases import Sessions
    from ivr.wake import Wakeups

log = logging.getLogger(__name__)

Loop = Callable[[], Awaitable[None]]
TTL = 6.0  # seconds a lease is held without renewal: an engine that died loses it then
WAKE = "leases"  # a lease was released: take it now


def engine_name(instance: str) -> str:
    """This engine among all: host, instance, process and a random tail (a restarted
    process never looks like its former self)."""
    return f"{socket.gethostname()}:{instance}:{os.getpid()}:{secrets.token_hex(3)}"


class Job:
    """A scheduler's loop under a lease: started and cancelled as the lease comes and goes."""

    def __init__(self, leases: Leases, name: str, loop: Loop) -> None:
        self.leases = leases
        self.name = name
        self.loop = loop
        self.task: asyncio.Task[None] | None = None
        self.starts = 0  # times the loop was started (taken over: more than once)

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def _start(self) -> None:
        if not self.running:
            self.starts += 1
            log.info("lease %s held: its job starts here", self.name)
            self.task = asyncio.get_running_loop().create_task(self._guarded(), name=self.name)

    async def _guarded(self) -> None:
        try:
            await self.loop()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the job of lease %s ended with an error", self.name)

    async def _stop(self) -> None:
        task, self.task = self.task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])

    async def close(self) -> None:
        await self.leases.drop(self)


class Leases:
    """This engine's leases. Without sessions (SQLite, one engine) every lease is held."""

    def __init__(
        self,
        sessions: Sessions | None = None,
        me: str = "",
        *,
        ttl: float = TTL,
        wakeups: Wakeups | None = None,
        can_hold: Callable[[], bool] | None = None,
    ) -> None:
        self.sessions = sessions
        # An engine that cannot do the jobs (its AMI is down: it can place no call and hear
        # none) gives up what it holds and takes nothing until it can again.
        self.can_hold = can_hold
        self.me = me or engine_name("engine")
        self.ttl = ttl
        self.wakeups = wakeups
        self.jobs: dict[str, Job] = {}
        self.held: set[str] = set()
        self.takeovers = 0
        self.last_error: str | None = None
        self._alarm = Alarm()
        self._task: asyncio.Task[None] | None = None
        self._renewed_at: float | None = None
        self._ensured: set[str] = set()
        if wakeups is not None:
            wakeups.on(WAKE, lambda _payload: self._alarm.wake())

    @property
    def shared(self) -> bool:
        return self.sessions is not None

    async def start(self) -> None:
        if self.sessions is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._renew(), name="leases")

    def wake(self) -> None:
        """Look again now (this engine can hold leases again: its AMI is back)."""
        self._alarm.wake()

    def run(self, name: str, loop: Loop) -> Job:
        """Run loop() while this engine holds the lease `name` (at once on SQLite)."""
        if name in self.jobs:
            raise ValueError(f"lease {name!r} has a job already")
        job = self.jobs[name] = Job(self, name, loop)
        if self.sessions is None:
            self.held.add(name)
            job._start()
        else:
            self._alarm.wake()  # the renewal loop takes it now if nobody holds it
        return job

    async def drop(self, job: Job) -> None:
        """The job ends here (its feature closes): its lease goes to another engine now."""
        if self.jobs.get(job.name) is job:
            del self.jobs[job.name]
        await job._stop()
        if job.name in self.held:
            self.held.discard(job.name)
            if self.sessions is not None:
                await self._release([job.name])

    async def close(self) -> None:
        """Stop every job and release every lease (the other engines take them at once)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
            self._task = None
        for job in list(self.jobs.values()):
            await job._stop()
        held, self.held = sorted(self.held), set()
        if self.sessions is not None and held:
            await self._release(held)

    async def _release(self, names: list[str]) -> None:
        from ivr.records import leases as store

        assert self.sessions is not None
        try:
            await store.release(self.sessions, names, self.me)
        except Exception as exc:  # the database is away: the leases end on their own
            log.warning("leases %s not released: %r", ", ".join(names), exc)
            return
        if self.wakeups is not None:
            with contextlib.suppress(Exception):
                await self.wakeups.send(WAKE)

    # -- renewal ---------------------------------------------------------------------------

    async def _renew(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            try:
                # A renewal that hangs (a database host lost without a reset, a primary
                # being replaced by its standby) may not outlast what this engine can still
                # count on holding: the jobs stop before the lease can have ended anywhere.
                async with asyncio.timeout(self._hold_left(began)):
                    await self.renew_once()
                # The database stamped the new end after `began`: counting from `began`
                # errs on the safe side, however long the commit took to come back.
                self._renewed_at = began
                self.last_error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = repr(exc)
                log.warning("leases not renewed: %r", exc)
                # Not renewed for (almost) a whole lease: another engine may hold them now.
                if self._hold_left(loop.time()) <= 0:
                    await self._lose(set(self.held))
            await self._alarm.sleep(self.ttl / 3)

    def _hold_left(self, now: float) -> float:
        """Seconds this engine may still count on the leases it holds (a margin of a fifth
        of the lease for clock rates and scheduling); a first attempt gets a whole lease."""
        if self._renewed_at is None or not self.held:
            return self.ttl
        return self._renewed_at + self.ttl * 0.8 - now

    async def renew_once(self) -> None:
        """Renew what this engine holds, take what nobody holds; start and stop jobs so."""
        from ivr.records import leases as store

        assert self.sessions is not None
        names = sorted(self.jobs)
        if not names:
            return
        if self.can_hold is not None and not self.can_hold():
            if self.held:
                given = set(self.held)
                log.warning("leases %s given up: this engine has no AMI", ", ".join(sorted(given)))
                await self._lose(given)
                await self._release(sorted(given))
            return
        if not self._ensured.issuperset(names):
            await store.ensure(self.sessions, names)
            self._ensured.update(names)
        mine = {h.name for h in await store.acquire(self.sessions, names, self.me, self.ttl)
                if h.holder == self.me and h.left > 0}  # fmt: skip
        await self._lose(self.held - mine)
        for name in sorted(mine - self.held):
            self.takeovers += 1
            self.held.add(name)
            job = self.jobs.get(name)
            if job is not None:
                job._start()

    async def _lose(self, names: set[str]) -> None:
        for name in sorted(names):
            log.warning("lease %s lost: its job stops here", name)
            self.held.discard(name)
            job = self.jobs.get(name)
            if job is not None:
                await job._stop()

    def status(self) -> dict[str, Any]:
        return {
            "me": self.me,
            "shared": self.shared,
            "ttl": self.ttl,
            "held": sorted(self.held),
            "jobs": sorted(self.jobs),
            "last_error": self.last_error,
        }
