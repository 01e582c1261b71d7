"""The records writer: one task that writes whatever queued up, in one transaction per batch.

Nothing on a call's path waits for the database: a route or the AMI consumer hands its facts
to submit() (no I/O) and goes on. The writer takes everything pending (up to a batch), writes
it under a deadline, and only then drops it from the queue; a batch that fails stays at the
head of the queue and is tried again with a growing pause, so a locked or stopped database
delays records but loses none. The queue is bounded: past its limit new items are refused
(and counted), and the engine reconciles from Asterisk's own account instead.

SQLite is written from a worker thread with the standard sqlite3 driver: one thread hop per
batch instead of one per statement. PostgreSQL goes through asyncpg.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.clock import Clock, utcnow
from ivr.records import db
from ivr.records.batch import Change, write_batch
from ivr.records.facts import Fact, Row

log = logging.getLogger(__name__)

Item = Fact | Row
CommitHook = Callable[[Sequence[Change]], None]

BATCH_MAX = 2000  # items in one transaction
PENDING_MAX = 200_000  # items waiting while the database is away
DEADLINE = 1.0  # seconds one batch may take (SQLite: its busy timeout)
# Seconds the writer lets facts gather after the first one: at a few calls a second, events
# come one at a time, and one transaction each would cost more than the calls themselves.
LINGER = 0.2
RETRY_FIRST, RETRY_MAX = 0.1, 2.0


class RecordWriter:
    def __init__(
        self,
        url: str,
        *,
        pending_max: int = PENDING_MAX,
        deadline: float = DEADLINE,
        linger: float = LINGER,
        on_batch: Callable[[int, float, bool], None] | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.url = url
        self.clock = clock  # the services' clock: a fact with no time of its own is "now"
        self.pending_max = pending_max
        self.deadline = deadline
        self.linger = linger
        self._listeners: list[CommitHook] = []
        self._on_batch = on_batch  # (items, seconds, ok): for the metrics
        self._queue: collections.deque[Item] = collections.deque()
        self._submitted = 0  # sequence number of the last item queued
        self._written = 0  # ... and of the last item written
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sync: Engine | None = None
        self._async: AsyncEngine | None = None
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None
        self.refused = 0
        self.failures = 0  # batches that failed, in a row
        self.last_error: str | None = None
        self._closing = False

    # -- what callers use ---------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._queue)

    @property
    def healthy(self) -> bool:
        """The last batch was written (a caller may wait for its own facts)."""
        return self.failures == 0

    def listen(self, hook: CommitHook) -> None:
        """Call hook(changes) after each batch that changed records (in the event loop)."""
        self._listeners.append(hook)

    async def start(self) -> None:
        if make_url(self.url).get_backend_name() == "sqlite":
            self._sync = _sqlite_engine(self.url, self.deadline)
            # always the same thread: the sqlite3 connection stays where it was made
            self._thread = concurrent.futures.ThreadPoolExecutor(1, "records-sqlite")
        else:
            self._async = db.make_engine(self.url)
        self._task = asyncio.create_task(self._run(), name="records-writer")

    def submit(self, items: Sequence[Item]) -> int | None:
        """Queue items for the next batch; their sequence number, or None if refused."""
        if not items:
            return self._submitted
        if len(self._queue) + len(items) > self.pending_max:
            self.refused += len(items)
            log.error("records queue full (%d): %d facts refused", len(self._queue), len(items))
            return None
        self._queue.extend(items)
        self._submitted += len(items)
        self._wake.set()
        return self._submitted

    async def wait_written(self, seq: int | None, timeout: float) -> bool:  # noqa: ASYNC109
        """True once everything up to `seq` is written; False after `timeout` seconds."""
        if seq is None:
            return False
        if seq <= self._written:
            return True
        future = asyncio.get_running_loop().create_future()
        self._waiters.append((seq, future))
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(future)
            return True
        except TimeoutError:
            return False

    async def flush(self, timeout: float) -> bool:  # noqa: ASYNC109
        return await self.wait_written(self._submitted, timeout)

    async def close(self, grace: float = 5.0) -> None:
        """Write what is pending (for at most `grace` seconds), then stop."""
        if self._task is not None:
            if self._queue and self.healthy:
                await self.flush(grace)
            self._closing = True
            self._task.cancel()
            await asyncio.wait([self._task])
        if self._queue:
            log.warning("records writer stopped with %d facts unwritten", len(self._queue))
        if self._async is not None:
            await self._async.dispose()
        if self._sync is not None and self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._sync.dispose)
            self._thread.shutdown(wait=False)

    # -- the writer task ----------------------------------------------------------------

    async def _run(self) -> None:
        pause = RETRY_FIRST
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                if self.linger > 0 and len(self._queue) < BATCH_MAX:
                    await asyncio.sleep(self.linger)  # let the rest of this moment's facts come
            batch = [self._queue[n] for n in range(min(BATCH_MAX, len(self._queue)))]
            began = time.perf_counter()
            try:
                changes = await self._write(batch)
            except Exception as exc:
                self._failed(batch, exc, time.perf_counter() - began)
                await asyncio.sleep(pause)  # the database is away: no point hurrying back
                pause = min(pause * 2, RETRY_MAX)
                continue
            pause = RETRY_FIRST
            for _ in batch:
                self._queue.popleft()
            self._written += len(batch)
            self._done(len(batch), time.perf_counter() - began, changes)

    def _failed(self, batch: list[Item], exc: BaseException, seconds: float) -> None:
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        if self.failures == 1 or self.failures % 50 == 0:
            log.warning(
                "records: a batch of %d facts was not written (%s); %d waiting, will retry",
                len(batch),
                self.last_error,
                len(self._queue),
            )
        if self._on_batch is not None:
            self._on_batch(len(batch), seconds, False)

    def _done(self, count: int, seconds: float, changes: list[Change]) -> None:
        if self.failures:
            log.info("records: the database is back; %d facts written", count)
        self.failures = 0
        self.last_error = None
        if self._on_batch is not None:
            self._on_batch(count, seconds, True)
        for hook in self._listeners if changes else ():
            try:
                hook(changes)
            except Exception:
                log.exception("records: a commit hook failed")
        still = []
        for seq, future in self._waiters:
            if seq <= self._written:
                if not future.done():
                    future.set_result(None)
            elif not future.done():
                still.append((seq, future))
        self._waiters = still

    async def _write(self, batch: list[Item]) -> list[Change]:
        now = self.clock()
        if self._sync is not None:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._thread, _write_sqlite, self._sync, batch, now)
        assert self._async is not None
        async with asyncio.timeout(self.deadline * 5):
            async with self._async.begin() as conn:
                changes: list[Change] = await conn.run_sync(write_batch, batch, now)
                return changes


def _sqlite_engine(url: str, deadline: float) -> Engine:
    """A synchronous engine on the same file: the standard sqlite3 driver, in WAL mode."""
    parsed = make_url(url).set(drivername="sqlite")
    engine = create_engine(parsed, pool_size=1, max_overflow=0)

    def pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(deadline * 1000)}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    event.listen(engine, "connect", pragmas)
    return engine


def _write_sqlite(engine: Engine, batch: list[Item], now: datetime) -> list[Change]:
    with engine.begin() as conn:
        return write_batch(conn, batch, now)
