"""Every call on record, even one the engine never heard of: reconcile with Asterisk.

On start and after every AMI (re)connection, the engine asks Asterisk which channels exist
(CoreShowChannels), reads Asterisk's own account of calls from where the last reconciliation
stopped, and then:
- every inbound call in the account gets its record rebuilt (or completed) from it, a call
  still up with what it did so far; a record the engine built live and saw end is never
  touched, and a live value is never corrected (idempotent by linkedid);
- a record still in progress whose call no longer exists is closed from the account, or as
  ended at its latest known time with outcome `unknown`.
A FastAGI request that claims a call Asterisk never reported (no Newchannel for it within a
few seconds, and no such channel when asked) is closed the same way.

It also counts the inbound calls up right now, for /metrics.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ivr.account.cel import (
    CallAccount,
    account_path,
    archive_pending,
    first_time,
    pending_path,
    read_account,
)
from ivr.account.rebuild import SOURCE, is_inbound, rebuild
from ivr.alarm import run_schedule
from ivr.ami.client import AmiError
from ivr.ami.facts import is_inbound as event_is_inbound
from ivr.ami.message import Message
from ivr.feature import Feature
from ivr.records import repo
from ivr.records.batch import Change
from ivr.records.facts import IN_PROGRESS, Fact, Facts

if TYPE_CHECKING:
    from ivr.services import Services

log = logging.getLogger(__name__)

ALARM = "reconcile"
CLAIM_GRACE = 5.0  # seconds a FastAGI claim may wait for its Newchannel before it is checked
STARTED_GRACE = timedelta(seconds=2)  # a record younger than the channel list is left alone
SEEN_MAX = 20_000  # inbound linkedids remembered from Newchannel events
WRITE_WAIT = 60.0  # seconds to wait for the rebuilt records to be written
ROTATION_CHECK = 60.0  # seconds between looks at the account's size and age
FINAL_WAIT = 20.0  # seconds the last pass before the engine stops may take


def account_file(services: Services) -> Path:
    """Where Asterisk writes its account, as the engine sees it."""
    return account_path(services.settings)


class Reconciler(Feature):
    name = "reconcile"

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.alarm = services.alarms.get(ALARM)
        self.source = f"cel:{services.settings.instance}"
        self.archive_source = f"{self.source}:pending"  # where to read the rotated file from
        self.rotations = 0
        self._wanted = False  # a reconciliation is due (a login, or events were lost)
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._claims: dict[str, float] = {}  # linkedid -> when to check it (loop time)
        self._live: set[str] = set()  # inbound calls up now (their linkedids)
        self._task: asyncio.Task[None] | None = None
        self.runs = 0
        self.rebuilt = 0
        self.closed = 0
        self.last: str | None = None

    async def start(self) -> None:
        services = self.services
        services.metrics.watch(services.metrics.calls_in_progress, lambda: len(self._live))
        if services.records is not None:
            services.records.listen(self._committed)
        self._task = asyncio.create_task(
            run_schedule(self.name, self._step, self.alarm), name="reconcile"
        )

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait([self._task])
        ami = self.services.ami
        if self.services.settings.cluster_node and ami is not None and ami.connected:
            # A node's engine that stops (a drain) leaves no call of its own open: one last
            # pass while Asterisk still answers closes what it did not see end.
            try:
                async with asyncio.timeout(FINAL_WAIT):
                    await self.reconcile()
            except Exception as exc:
                log.warning("reconcile: the last pass before stopping failed: %r", exc)

    async def on_ami_connected(self) -> None:
        self._wanted = True
        self.alarm.wake()

    def status(self) -> dict[str, object]:
        return {
            "runs": self.runs,
            "rotations": self.rotations,
            "rebuilt": self.rebuilt,
            "closed": self.closed,
            "claims_waiting": len(self._claims),
            "last": self.last,
        }

    # -- live events ----------------------------------------------------------------------

    async def on_events(self, events: Sequence[Message]) -> None:
        for event in events:
            name = event.event
            if name not in ("Newchannel", "Hangup") or not event_is_inbound(event):
                continue
            linkedid = event["Linkedid"]
            if name == "Newchannel":
                self._live.add(linkedid)
                self._claims.pop(linkedid, None)
                self._seen[linkedid] = None
                if len(self._seen) > SEEN_MAX:
                    self._seen.popitem(last=False)
            else:
                self._live.discard(linkedid)

    def _committed(self, changes: Sequence[Change]) -> None:
        """A FastAGI request opened a record: check later that Asterisk has the call."""
        due = time.monotonic() + CLAIM_GRACE
        added = False
        for change in changes:
            if SOURCE in change.sources and change.values["rebuilt"]:
                self.services.metrics.records_rebuilt.inc()
            if (
                "agi" in change.sources
                and change.values["outcome"] == IN_PROGRESS
                and change.linkedid not in self._seen
                and change.linkedid not in self._claims
            ):
                self._claims[change.linkedid] = due
                added = True
        if added:
            self.alarm.wake()

    # -- the scheduled work ---------------------------------------------------------------

    def rotation_due(self, path: Path) -> bool:
        """The account is past its size, or its first line is older than its age."""
        settings = self.services.settings
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return False
        if size >= settings.account_rotate_bytes:
            return True
        first = first_time(path)
        age = timedelta(hours=settings.account_rotate_hours)
        return first is not None and self.services.clock() - first >= age

    async def _step(self) -> float | None:
        path = account_file(self.services)
        ami = self.services.ami
        look = ami is not None and ami.connected and not self._wanted
        if look and (self.rotation_due(path) or pending_path(path).exists()):
            self._wanted = True  # rotated by the pass that follows the reconciliation
        if self._wanted:
            self._wanted = False
            try:
                await self.reconcile()
            except Exception:
                self._wanted = True  # tried again after run_schedule's pause
                raise
        now = time.monotonic()
        due = [lid for lid, at in self._claims.items() if at <= now]
        if due:
            await self._check_claims(due)
        if not self._claims:
            return ROTATION_CHECK
        return min(ROTATION_CHECK, max(0.0, min(self._claims.values()) - time.monotonic()))

    async def _channels(self) -> tuple[set[str], set[str]] | None:
        """(linkedids of every channel, those of inbound callers); None without AMI."""
        ami = self.services.ami
        if ami is None or not ami.connected:
            return None
        try:
            channels = await ami.send_action_list({"Action": "CoreShowChannels"}, timeout=30)
        except (AmiError, TimeoutError) as exc:
            log.warning("reconcile: cannot list Asterisk's channels: %r", exc)
            return None
        every = {c.get("Linkedid", "") for c in channels}
        inbound = {c["Linkedid"] for c in channels if event_is_inbound(c)}
        return every, inbound

    def _message_exists(self, path: str) -> bool:
        return self.services.settings.host_path(Path(path)).is_file()

    async def reconcile(self) -> None:
        """One pass: rebuild what the account knows, close what no longer exists."""
        services = self.services
        writer = services.records
        found = await self._channels()
        if writer is None or found is None:
            raise RuntimeError("reconcile needs the records writer and AMI")
        live, inbound = found
        listed_at = services.clock()
        self._live = set(inbound)
        path = account_file(services)
        pending = pending_path(path)
        older: dict[str, CallAccount] = {}
        if pending.exists():  # rotated: its rest first, then the new file
            at = await repo.get_cursor(services.sessions, self.archive_source)
            older, _ = await asyncio.to_thread(read_account, pending, at)
        position = await repo.get_cursor(services.sessions, self.source)
        accounts, end = await asyncio.to_thread(read_account, path, position)
        for linkedid, account in accounts.items():
            if linkedid in older:
                older[linkedid].events.extend(account.events)
        merged = {**accounts, **older}
        rules = services.rules.current
        facts: list[Fact] = []
        covered: set[str] = set()
        keep = end  # the account is read again from the first call still up
        keep_older: int | None = None  # ... in the rotated file, if it began there
        for account in merged.values():
            if not is_inbound(account):
                continue
            up = account.ended_at is None and account.linkedid in live
            if up and account.linkedid in older:
                first = account.first_position
                keep_older = first if keep_older is None else min(keep_older, first)
            elif up:  # read again next time; what it did so far is recorded now
                keep = min(keep, account.first_position)
            fact = rebuild(account, rules, self._message_exists, live=up)
            if fact is not None:
                facts.append(fact)
                covered.add(account.linkedid)
        for linkedid, latest in await repo.open_records(
            services.sessions, listed_at - STARTED_GRACE
        ):
            # another node's calls are its own engine's to close
            own = services.settings.own_call(linkedid)
            if own and linkedid not in live and linkedid not in covered:
                facts.append(_closed(linkedid, latest))
        written = await self._write(facts)
        now = services.clock()
        if pending.exists():
            if keep_older is None:  # read to its end, nothing of it still up
                archive_pending(path, now)
            else:
                await repo.set_cursor(services.sessions, self.archive_source, keep_older, now)
        await repo.set_cursor(services.sessions, self.source, keep, now)
        if not pending.exists() and self.rotation_due(path):
            # what is still to read moves with the file; the new file is read from its start
            await repo.set_cursor(services.sessions, self.archive_source, keep, now)
            path.rename(pending)
            await repo.set_cursor(services.sessions, self.source, 0, now)
            self.rotations += 1
            log.info("reconcile: the account rotated at %d bytes", pending.stat().st_size)
            if keep >= end:  # no call of it still up: an archive at once
                archive_pending(path, now)
        self.runs += 1
        self.last = (
            f"{listed_at.isoformat(timespec='seconds')}: {len(accounts)} calls in the account "
            f"from byte {position}; {written} calls to rebuild or close if not ended"
        )
        log.info("reconcile: %s", self.last)

    async def _write(self, facts: list[Fact]) -> int:
        writer = self.services.records
        assert writer is not None
        if not facts:
            return 0
        seq = writer.submit(facts)
        if not await writer.wait_written(seq, WRITE_WAIT):
            raise RuntimeError("reconcile: the rebuilt records were not written in time")
        rebuilt = sum(1 for f in facts if f.facts.rebuilt)
        self.rebuilt += rebuilt
        self.closed += len(facts) - rebuilt
        return len(facts)

    async def _check_claims(self, due: list[str]) -> None:
        found = await self._channels()
        if found is None:
            for linkedid in due:  # no AMI now: the next login reconciles everything
                self._claims.pop(linkedid, None)
            return
        live, _ = found
        gone = [lid for lid in due if lid not in live]
        for linkedid in due:
            self._claims.pop(linkedid, None)
        if not gone:
            return
        position = await repo.get_cursor(self.services.sessions, self.source)
        accounts, _ = await asyncio.to_thread(read_account, account_file(self.services), position)
        rules = self.services.rules.current
        facts = []
        for linkedid in gone:
            account = accounts.get(linkedid)
            fact = rebuild(account, rules, self._message_exists) if account else None
            if fact is None:
                record = await repo.get_call(self.services.sessions, linkedid)
                if record is None:
                    continue
                fact = _closed(linkedid, record.arrived_at or record.updated_at)
            facts.append(fact)
            log.warning("call %s: claimed over FastAGI, unknown to Asterisk: closed", linkedid)
        await self._write(facts)


def _closed(linkedid: str, latest: datetime) -> Fact:
    """A call that no longer exists and that nothing tells more of."""
    return Fact(linkedid, Facts(closed_at=latest), source=SOURCE, kind="closed", only_open=True)
