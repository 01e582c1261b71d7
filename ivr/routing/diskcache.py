"""The compiled rules kept on disk, so a restart on unchanged rules skips the cold load.

A cold load of 10,000 clients spends seconds parsing YAML and seconds compiling the specs.
Both depend only on the files' names and bytes and on the routing code, so the last valid
Rules is kept whole as one pickle, keyed by the folder and the digest of its files: a
restart reads and hashes the files (the digest is computed anyway), then unpickles.
The pickle is written in a background thread after a load, so neither start-up nor a reload
waits for it. Within a process the ParseCache it extends still re-parses only edited files.

Keeping each parsed file on disk instead was measured and dropped: 10,000 small files cost
more to write and read back than the YAML parse they save, and the compile remained.

The cache is an optimisation, never a source of truth: an entry that cannot be read or
written is logged and the rules are loaded as usual. It is as trusted as the code itself
(the engine's own state folder, mode 0700): unpickling runs code, so never share it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import shutil
import sys
import tempfile
import threading
from pathlib import Path

from ivr.routing.load import ParseCache
from ivr.routing.model import Rules

log = logging.getLogger(__name__)

ROUTING_CODE = Path(__file__).resolve().parent


def code_version() -> str:
    """Changes whenever a cached Rules could: any routing code, or Python itself."""
    digest = hashlib.sha256(sys.version.encode())
    for module in sorted(ROUTING_CODE.glob("*.py")):
        digest.update(module.name.encode() + b"\0" + module.read_bytes())
    return digest.hexdigest()[:16]


FOLDER = "rules-cache"  # in an instance's state folder: the engine's and `ivr calls`'


class DiskRulesCache(ParseCache):
    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.root = Path(folder)
        self.folder = self.root / code_version()
        self.hits = self.writes = 0
        self._writer: threading.Thread | None = None

    def _entry(self, source: str, version: str) -> Path:
        name = hashlib.sha256(f"{source}\0{version}".encode()).hexdigest()[:32]
        return self.folder / f"rules-{name}.pickle"

    def get_rules(self, source: str, version: str) -> Rules | None:
        entry = self._entry(source, version)
        try:
            data = entry.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("rules cache: cannot read %s: %s", entry, exc)
            return None
        try:
            rules = pickle.loads(data)  # noqa: S301 (the engine's own state folder)
        except Exception as exc:  # truncated, or written by other code: load as usual
            log.warning("rules cache: ignoring %s: %s", entry, exc)
            return None
        if not isinstance(rules, Rules) or rules.source_digest != version:
            return None
        self.hits += 1
        return rules

    def put_rules(self, source: str, version: str, rules: Rules) -> None:
        """Called only after get_rules missed: the entry is absent, broken or stale."""
        entry = self._entry(source, version)
        self.wait()  # one writer at a time; the newest rules win
        self._writer = threading.Thread(
            target=self._write, args=(entry, rules), name="rules-cache", daemon=True
        )
        self._writer.start()

    def wait(self) -> None:
        """Until the rules being written, if any, are on disk."""
        if self._writer is not None:
            self._writer.join()
            self._writer = None

    def _write(self, entry: Path, rules: Rules) -> None:
        try:
            self.folder.mkdir(parents=True, mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".rules-", dir=self.folder)
            try:
                with os.fdopen(fd, "wb") as handle:
                    pickle.dump(rules, handle, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, entry)  # readers see a whole entry or none
            finally:
                Path(tmp).unlink(missing_ok=True)
            self.writes += 1
            # only the newest rules are worth keeping, and only for this code; a temporary
            # file left by a process stopped mid-write is garbage too
            for old in [*self.folder.glob("rules-*.pickle"), *self.folder.glob(".rules-*")]:
                if old != entry:
                    old.unlink(missing_ok=True)
            for version in self.root.iterdir():
                if version != self.folder and version.is_dir():
                    shutil.rmtree(version, ignore_errors=True)
        except Exception as exc:  # a full disk or a read-only folder must not matter
            log.warning("rules cache: cannot write to %s: %s", self.folder, exc)
