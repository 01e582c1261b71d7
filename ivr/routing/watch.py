"""Reload the rules when a rules file changes: poll the folder's *.yaml mtimes about once a second.

Polling needs no new dependency and behaves the same on every file system (bind mounts and
network shares included, where inotify says nothing). A file caught half-written is refused
by the reload like any invalid file, the running rules stay, and the next write is seen at
the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

Snapshot = dict[Path, tuple[int, int]]


def snapshot(path: Path) -> Snapshot:
    """(mtime_ns, size) of every rules file under `path`, or of `path` if it is a file."""
    files = [path] if path.is_file() else sorted(path.rglob("*.yaml"))
    out: Snapshot = {}
    for file in files:
        with contextlib.suppress(FileNotFoundError):  # removed between the listing and stat
            info = file.stat()
            out[file] = (info.st_mtime_ns, info.st_size)
    return out


class RulesWatcher:
    """Calls `reload` (in a worker thread: a big folder takes a while to load) on a change."""

    def __init__(self, path: Path, reload: Callable[[], object], interval: float = 1.0) -> None:
        self.path = Path(path)
        self.interval = interval
        self._reload = reload
        self._task: asyncio.Task[None] | None = None
        self.polls = 0  # how many times the folder was looked at, for tests and status
        self.polled = asyncio.Event()  # set after each poll

    async def start(self) -> None:
        """Take the first snapshot now, so a change made right after start is seen."""
        first = await asyncio.to_thread(snapshot, self.path)
        self._task = asyncio.create_task(self._run(first), name="rules-watcher")

    async def _run(self, last: Snapshot) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                current = await asyncio.to_thread(snapshot, self.path)
                if current != last:
                    last = current
                    log.info("rules files under %s changed: reloading", self.path)
                    await asyncio.to_thread(self._reload)
            except Exception:  # the watcher must outlive any one bad poll
                log.exception("rules watcher: poll of %s failed", self.path)
            self.polls += 1
            self.polled.set()

    async def wait_polls(self, count: int) -> None:
        """Return once `count` more polls have run."""
        target = self.polls + count
        while self.polls < target:
            self.polled.clear()
            await self.polled.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
