"""RulesHolder: the rules in force, swapped whole when a valid new version is loaded.

A call reads `holder.current` once and keeps that Rules object to its end, so a reload in
the middle of a call never mixes two versions. reload() is safe to call from a file watcher,
a SIGHUP handler or the portal: an invalid file keeps the running rules and records why.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable, Collection
from datetime import datetime
from pathlib import Path

from ivr.clock import utcnow
from ivr.routing.load import ParseCache, load_rules
from ivr.routing.model import Rules
from ivr.routing.source import RulesError

log = logging.getLogger(__name__)


def settle() -> None:
    """Move every object alive now out of the garbage collector's sight.

    A big rules set is millions of long-lived objects; each full collection would walk them
    all, and that pause lands in some call's routing decision (the p99.9 tail). Frozen, they
    are still freed by reference counting when the rules are replaced.
    """
    gc.freeze()


class RulesHolder:
    def __init__(
        self,
        path: Path,
        loader: Callable[[Path, ParseCache], Rules] = load_rules,
        clock: Callable[[], datetime] = utcnow,
        cache: ParseCache | None = None,
    ) -> None:
        """Load the rules at `path`; RulesError if they are invalid (fail fast at start-up).

        `cache`: parsed files kept between loads (a DiskParseCache also between runs).
        """
        self.path = Path(path)
        self._loader = loader
        self._clock = clock
        self._lock = threading.Lock()
        # a reload parses only the files that changed
        self._cache = cache if cache is not None else ParseCache()
        self._rules = loader(self.path, self._cache)
        settle()
        self.loaded_at: datetime = clock()
        self.last_error: str | None = None
        self.last_attempt: datetime = self.loaded_at

    @property
    def current(self) -> Rules:
        return self._rules

    @property
    def digest(self) -> str:
        return self._rules.source_digest

    def reload(self, changed: Collection[Path] = ()) -> tuple[bool, str]:
        """Load again; swap only if valid. Returns (swapped or unchanged ok, a one-line note).

        Only files that changed are parsed and compiled again (the cache knows the others);
        `changed`, when the caller knows it (the file watcher), is only logged.
        """
        with self._lock:
            self.last_attempt = self._clock()
            try:
                rules = self._loader(self.path, self._cache)
            except RulesError as exc:
                self.last_error = str(exc)
                count = len(exc.problems)
                # the running rules stay: a typo in one file must not take the service down
                log.warning(
                    "rules at %s rejected, keeping %s:\n%s", self.path, self.digest[:12], exc
                )
                plural = "s" if count != 1 else ""
                return False, f"rejected ({count} problem{plural}): kept the running rules"
            self.last_error = None
            if rules.source_digest == self._rules.source_digest:
                return True, "unchanged"
            self._rules = rules
            settle()
            if changed:
                log.info("rules files changed: %s", ", ".join(sorted(map(str, changed))[:10]))
            self.loaded_at = self.last_attempt
            log.info("rules reloaded from %s: %s", self.path, rules.summary())
            return True, f"reloaded: {rules.summary()}"
