"""The engine process: FastAGI server, AMI client, rules and call records in one event loop.

The engine keeps no call state of its own between requests: every fact goes to the database,
so several engines (and several Asterisk nodes) can share one PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.agi.server import AgiServer
from ivr.ami.client import AmiClient
from ivr.ami.facts import record_events
from ivr.ami.message import Message
from ivr.config import Settings
from ivr.feature import Feature
from ivr.features import build as build_features
from ivr.lease import Leases, engine_name
from ivr.metrics import Metrics
from ivr.records import db
from ivr.records.batch import Change
from ivr.records.listen import PgRelay, is_postgresql
from ivr.records.writer import RecordWriter
from ivr.routing import RulesHolder
from ivr.routing.diskcache import FOLDER as RULES_CACHE
from ivr.routing.diskcache import DiskRulesCache
from ivr.routing.watch import RulesWatcher
from ivr.services import Services, clock_of

log = logging.getLogger(__name__)


class Engine:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db: AsyncEngine | None = None
        self.agi: AgiServer | None = None
        self.ami: AmiClient | None = None
        self.services: Services | None = None
        self.features: list[Feature] = []
        self.http: Any = None
        self.watcher: RulesWatcher | None = None
        self.relay: PgRelay | None = None
        self.metrics = Metrics()
        self.records: RecordWriter | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        from agi_scripts.routes import routes  # the table lives with the routes
        from ivr.control import start_control

        settings = self.settings
        await db.upgrade(settings.db_url)
        self.db = db.make_engine(settings.db_url)
        clock = clock_of(settings)
        self.records = RecordWriter(settings.db_url, on_batch=self.metrics.batch, clock=clock)
        self.records.listen(self._committed)
        await self.records.start()
        # a restart on unchanged rules reads them back compiled
        holder = RulesHolder(settings.rules, cache=DiskRulesCache(settings.state_dir / RULES_CACHE))
        self.ami = AmiClient(
            settings.bind,
            settings.ports.ami,
            settings.ami_user,
            settings.ami_secret,
            on_batch=self.on_events,
            on_connect=self.on_ami_connected,
        )
        self.services = Services(
            settings=settings,
            rules=holder,
            sessions=db.session_factory(self.db),
            ami=self.ami,
            clock=clock,
            records=self.records,
            metrics=self.metrics,
        )
        table = routes(self.services)
        self.agi = AgiServer(
            table,
            host=settings.bind,
            port=settings.ports.agi,
            read_timeout=settings.agi_read_timeout,
            on_served=lambda route, seconds: self.metrics.agi_seconds.labels(
                route if route in table else "unknown"
            ).observe(seconds),
            token=settings.agi_token,
        )
        if is_postgresql(settings.db_url):  # several engines may share it: hear each other
            self.relay = PgRelay(settings.db_url, self.services.wake)
            await self.relay.start()
            # ... and each scheduler runs in one of them at a time
            self.services.leases = Leases(
                self.services.sessions,
                engine_name(settings.instance),
                ttl=settings.lease_seconds,
                wakeups=self.services.wake,
                can_hold=lambda: self.ami is not None and self.ami.connected,
            )
            await self.services.leases.start()
            # ... and the overrides set from any node's area
            from ivr.nodes.overrides import SharedOverrides

            shared = SharedOverrides(self.services.sessions, self.services.wake)
            await shared.start()
            self.services.overrides = shared
        self._watch_figures()
        await self.agi.start()
        await self.ami.start()
        self.features = build_features(self.services)
        for feature in self.features:
            await feature.start()
        warmed = await self.services.prompts.warm(holder.current)
        log.info("%d text prompts ready", warmed)
        self.http = await start_control(self)
        self.watcher = RulesWatcher(settings.rules, self.reload_rules)  # told by the kernel
        await self.watcher.start()
        log.info(
            "engine ready: agi=%s:%d ami=%s:%d http=%s:%d rules=%s",
            settings.bind,
            self.agi.port,
            settings.bind,
            settings.ports.ami,
            settings.bind,
            settings.ports.http,
            holder.digest,
        )

    def _watch_figures(self) -> None:
        m, ami, records = self.metrics, self.ami, self.records
        assert ami is not None and records is not None
        m.watch(m.ami_queue, lambda: ami.backlog)
        m.watch(m.ami_dropped, lambda: ami.dropped)
        m.watch(m.records_pending, lambda: records.pending)

    def _committed(self, changes: Sequence[Change]) -> None:
        """Count each record as it ends."""
        for change in changes:
            values = change.values
            if not change.had_ended and values["ended_at"] is not None:
                self.metrics.calls.labels(values["client_id"] or "", values["outcome"]).inc()

    async def on_events(self, events: list[Message]) -> None:
        """Events as they queued up: their facts to the records writer (queued, never
        waited for: a feature that reads a record asks the writer to flush first), then each
        event's own handlers, in order, each failure kept to its event."""
        if self.services is None or self.records is None:
            return
        self.metrics.ami_events.inc(len(events))
        record_events(self.records, events)
        for feature in self.features:  # after the records: features read the calls
            try:
                await feature.on_events(events)
            except Exception:
                log.exception("%s: handling %d AMI events failed", feature.name, len(events))

    async def on_ami_connected(self) -> None:
        if self.services is not None:
            self.services.leases.wake()  # leases wait for the AMI: take them now
        for feature in self.features:
            try:
                await feature.on_ami_connected()
            except Exception:
                log.exception("%s: resynchronising after the AMI login failed", feature.name)

    def reload_rules(self, changed: Collection[Path] = ()) -> tuple[bool, str]:
        assert self.services is not None
        ok, text = self.services.rules.reload(changed)
        (log.info if ok else log.error)("rules reload: %s", text)
        self.metrics.rules_reloads.labels("ok" if ok else "error").inc()
        return ok, text

    def status(self) -> dict[str, Any]:
        holder = self.services.rules if self.services else None
        return {
            "instance": self.settings.instance,
            # The engine's own clock (settings.clock_start moves it): what "now" is for it.
            "clock": self.services.clock().isoformat() if self.services else None,
            "agi": {
                "port": self.agi.port if self.agi else None,
                "active_calls": self.agi.active_calls if self.agi else 0,
                "calls_handled": self.agi.calls_handled if self.agi else 0,
                "calls_failed": self.agi.calls_failed if self.agi else 0,
                "calls_refused": self.agi.calls_refused if self.agi else 0,
            },
            "ami": {
                "connected": bool(self.ami and self.ami.connected),
                "backlog": self.ami.backlog if self.ami else 0,
                "dropped": self.ami.dropped if self.ami else 0,
            },
            "records": (
                {
                    "pending": self.records.pending,
                    "refused": self.records.refused,
                    "last_error": self.records.last_error,
                }
                if self.records
                else None
            ),
            "rules": (
                {
                    "digest": holder.digest,
                    "loaded_at": holder.loaded_at.isoformat(),
                    "last_attempt": holder.last_attempt.isoformat(),
                    "last_error": holder.last_error,
                    "summary": holder.current.summary(),
                }
                if holder
                else None
            ),
            "overrides": (
                self.services.overrides.status(self.services.clock()) if self.services else None
            ),
            "leases": self.services.leases.status() if self.services else None,
            **{f.name: shown for f in self.features if (shown := f.status()) is not None},
        }

    def request_stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, lambda: self.reload_rules())
        await self.start()
        try:
            await self._stopping.wait()
        finally:
            await self.close()

    async def close(self) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
        if self.http is not None:
            with contextlib.suppress(Exception):
                await self.http.cleanup()
        for feature in reversed(self.features):
            try:
                await feature.close()
            except Exception:
                log.exception("%s: close failed", feature.name)
        if self.services is not None:  # what is left goes to the other engines at once
            await self.services.leases.close()
            closing = getattr(self.services.overrides, "close", None)
            if closing is not None:
                await closing()
        if self.agi is not None:
            await self.agi.close()
        if self.ami is not None:
            await self.ami.close()
        if self.relay is not None:
            await self.relay.close()
        if self.records is not None:
            await self.records.close()
        if self.db is not None:
            await self.db.dispose()
        log.info("engine stopped")
