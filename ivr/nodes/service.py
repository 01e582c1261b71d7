"""No record stays open because its node is gone.

Every engine of a cluster refreshes its node's heartbeat while its AMI is logged in (its
Asterisk answers). One engine at a time (lease `nodes`) looks at the others' heartbeats:
a node silent for more than `node_down_seconds` has its calls still open closed from the
shared store, as cut off (end inferred, outcome unknown) at the last moment it was known
alive. When that node comes back, its own reconciliation reads its Asterisk's account and
corrects them (a call that in fact ended normally gets its real end).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ivr.feature import Feature
from ivr.nodes import store
from ivr.nodes.probe import Probe
from ivr.records import recordings, repo
from ivr.records.facts import Fact, Facts

if TYPE_CHECKING:
    from ivr.ami.message import Message
    from ivr.services import Services

log = logging.getLogger(__name__)

LEASE = "nodes"
SOURCE = "node"
WRITE_WAIT = 60.0


class Nodes(Feature):
    name = "nodes"

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        settings = services.settings
        self.down = timedelta(seconds=settings.node_down_seconds)
        self.down_seconds = settings.node_down_seconds
        self.every = max(0.2, settings.node_down_seconds / 5)
        self.probe: Probe | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._job: Any = None
        self.last_beat: datetime | None = None
        self._beating_since: float | None = None  # loop time of the first beat in a row
        self.closed = 0
        self.kept = 0  # messages recorded here, stored in the shared database

    @property
    def active(self) -> bool:
        return self.services.settings.cluster_node

    async def start(self) -> None:
        if not self.active:
            return
        settings = self.services.settings
        if settings.ports.probe:
            self.probe = Probe(settings.sip_address or settings.bind, settings.ports.probe)
            await self.probe.start()
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._beating(), name="heartbeat"))
        self._job = self.services.leases.run(LEASE, self._watching)

    async def close(self) -> None:
        if self.probe is not None:  # first: Kamailio stops sending calls here
            self.probe.close()
        if self._job is not None:
            await self._job.close()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)

    async def _beating(self) -> None:
        services = self.services
        while True:
            ami = services.ami
            if ami is not None and ami.connected:
                try:
                    now = services.clock()
                    await store.beat(
                        services.sessions, services.settings.instance, services.leases.me, now
                    )
                    self.last_beat = now
                    if self._beating_since is None:
                        self._beating_since = asyncio.get_running_loop().time()
                except Exception as exc:
                    self._beating_since = None
                    log.warning("heartbeat not written: %r", exc)
            else:
                self._beating_since = None
            await asyncio.sleep(self.every)  # the heartbeat's period

    async def _watching(self) -> None:
        while True:
            try:
                await self.close_gone()
            except Exception:
                log.exception("closing the calls of nodes gone failed")
            await asyncio.sleep(self.every)  # how soon a silent node is noticed

    async def close_gone(self) -> int:
        """Close the open calls of every other node silent for longer than the stated time."""
        services = self.services
        # Another node's silence counts only while this engine's own beats go through: after
        # the database was away (a failover), every node is silent for as long, and each
        # gets a whole `node_down_seconds` to beat again before it is taken for gone.
        since = self._beating_since
        if since is None or asyncio.get_running_loop().time() - since <= self.down_seconds:
            return 0
        closed = 0
        for beat in await store.beats(services.sessions):
            if beat.node == services.settings.instance or beat.silent <= self.down_seconds:
                continue
            if beat.closed_until == beat.alive_at:
                continue  # done already, and it has not beaten since
            closed += await self._close(beat)
        return closed

    async def _close(self, beat: store.Beat) -> int:
        services = self.services
        writer = services.records
        assert writer is not None
        prefix = f"{beat.node}-"
        facts = [
            Fact(lid, Facts(closed_at=max(beat.alive_at, latest)), source=SOURCE,
                 kind="node-gone", only_open=True)
            for lid, latest in await repo.open_records(services.sessions, beat.alive_at
                                                       + self.down)
            if lid.startswith(prefix)
        ]  # fmt: skip
        if facts:
            seq = writer.submit(facts)
            if not await writer.wait_written(seq, WRITE_WAIT):
                raise RuntimeError(f"the calls of node {beat.node} were not closed in time")
            log.warning(
                "node %s silent since %s: %d open calls closed as cut off",
                beat.node, beat.alive_at.isoformat(), len(facts),
            )  # fmt: skip
        await store.mark_closed(services.sessions, beat.node, beat.alive_at)
        self.closed += len(facts)
        return len(facts)

    async def on_event(self, event: Message) -> None:
        """A message recorded here goes to the shared database, before the ladder that
        plays it starts (the features after this one hear the event once this returns)."""
        if not self.active or event.event != "UserEvent":
            return
        if event.get("UserEvent") != "IvrMessage" or not event.get("Path"):
            return
        settings = self.services.settings
        path = event.get("Path")
        data = await asyncio.to_thread(recordings.read_local, settings, path)
        if data is None:
            log.warning("message %s: no such file in this node's messages folder", path[:200])
            return
        await recordings.keep(self.services.sessions, path, data, self.services.clock())
        self.kept += 1

    def status(self) -> dict[str, Any] | None:
        if not self.active:
            return None
        return {
            "last_beat": self.last_beat.isoformat() if self.last_beat else None,
            "closed": self.closed,
            "messages_kept": self.kept,
            "probe": self.probe.answered if self.probe else None,
        }
