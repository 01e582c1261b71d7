"""Reload the rules when a rules file changes: the kernel says so (inotify), nobody polls.

The rules folder and its clients/ folder are watched (two watches, whatever the number of
client files); an event on a *.yaml or *.yml file starts a short settling pause (an editor
writes a file in several steps), then one reload in a worker thread with the set of files
that changed, so the holder reads again only those. An idle watcher costs nothing: its task
waits on the inotify descriptor in the event loop, with no timer.

A file caught half-written is refused by the reload like any invalid file, the running rules
stay, and the next write is seen as a new change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from asyncinotify import Inotify, Mask

log = logging.getLogger(__name__)

SUFFIXES = (".yaml", ".yml")
SETTLE = 0.2  # seconds without a new event before the reload starts
_FILE_EVENTS = Mask.CLOSE_WRITE | Mask.MOVED_TO | Mask.MOVED_FROM | Mask.DELETE | Mask.CREATE
_DIR_EVENTS = Mask.DELETE_SELF | Mask.MOVE_SELF

Reload = Callable[[frozenset[Path]], object]


class RulesWatcher:
    """Calls `reload(changed_files)` in a worker thread once rules files have changed."""

    def __init__(self, path: Path, reload: Reload, settle: float = SETTLE) -> None:
        self.path = Path(path)
        self.settle = settle
        self._reload = reload
        self._inotify: Inotify | None = None
        self._task: asyncio.Task[None] | None = None
        self._watched: set[Path] = set()
        self.events = 0  # kernel events read, rules files or not (for tests and status)
        self.reloads = 0
        self.changed = asyncio.Event()  # set after each event read and each reload

    async def start(self) -> None:
        """Watch from now on: a change made right after start is seen."""
        self._inotify = Inotify()
        self._watch_folders()
        self._task = asyncio.create_task(self._run(), name="rules-watcher")

    def _folders(self) -> list[Path]:
        if not self.path.is_dir():
            return [self.path.parent]  # a single rules file: its folder, filtered by name
        return [self.path, self.path / "clients"]

    def _watch_folders(self) -> None:
        assert self._inotify is not None
        for folder in self._folders():
            if folder not in self._watched and folder.is_dir():
                self._inotify.add_watch(folder, _FILE_EVENTS | _DIR_EVENTS)
                self._watched.add(folder)

    def _is_rules_file(self, path: Path) -> bool:
        if not self.path.is_dir():
            return path == self.path
        return path.suffix in SUFFIXES

    async def _run(self) -> None:
        assert self._inotify is not None
        changed: set[Path] = set()
        events = aiter(self._inotify)
        while True:
            try:
                if not changed:
                    event = await anext(events)
                else:
                    try:
                        async with asyncio.timeout(self.settle):
                            event = await anext(events)
                    except TimeoutError:
                        await self._reload_now(frozenset(changed))
                        changed.clear()
                        continue
                self.events += 1
                self.changed.set()
                if event.mask & (_DIR_EVENTS | Mask.IGNORED) and event.watch is not None:
                    self._watched.discard(Path(event.watch.path))
                path = event.path
                if path is None:
                    continue
                if event.mask & Mask.ISDIR:
                    self._watch_folders()  # clients/ made after the start
                    changed.add(path)
                elif self._is_rules_file(path):
                    changed.add(path)
            except Exception:  # the watcher must outlive any one bad event or reload
                log.exception("rules watcher on %s failed", self.path)

    async def _reload_now(self, changed: frozenset[Path]) -> None:
        log.info("rules files changed under %s (%d): reloading", self.path, len(changed))
        try:
            await asyncio.to_thread(self._reload, changed)
        finally:
            self.reloads += 1
            self.changed.set()

    async def wait(self, condition: Callable[[], bool]) -> None:
        """Return once condition() holds, looking again after each event and reload."""
        while not condition():
            self.changed.clear()
            await self.changed.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None
