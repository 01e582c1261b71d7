"""Parsed rules files kept on disk, so a cold start parses only the files it has never seen.

Parsing YAML into spec objects is most of a cold load (10,000 clients: seconds); a file's
parse depends only on its name, its bytes and this code, so it is kept as one pickle per
(name, content) under the user's cache folder (~/.cache/ivr/rules-parsed/<code version>/).
A changed file gets a new entry; a change to the spec code starts a new version folder.
After a load that wrote anything, entries (and versions) that load did not use are removed,
so the folder holds about one entry per rules file.

The cache is an optimisation and never a source of truth: an entry that cannot be read or
written is logged and the file is parsed as usual. It is as trusted as the code itself (the
folder is the user's own, mode 0700): unpickling runs code, so it must never be shared.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import shutil
import sys
import tempfile
from pathlib import Path

from ivr.routing import source, spec
from ivr.routing.load import ParseCache
from ivr.routing.source import Problem

log = logging.getLogger(__name__)


def code_version() -> str:
    """Changes whenever the decoded objects could: the spec code, the decoder, Python itself."""
    digest = hashlib.sha256(sys.version.encode())
    for module in (spec, source):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.hexdigest()[:16]


def default_folder() -> Path:
    base = os.environ.get("IVR_CACHE") or os.environ.get("XDG_CACHE_HOME")
    root = Path(base) / "ivr" if base else Path.home() / ".cache" / "ivr"
    return root / "rules-parsed"


class DiskParseCache(ParseCache):
    def __init__(self, folder: Path | None = None) -> None:
        super().__init__()
        self.folder = (folder or default_folder()) / code_version()
        self.hits = self.writes = 0
        self._writable = True  # after one failed write, stop trying (and logging) for this run
        self._used: set[str] = set()  # entry names the current load read or wrote
        self._wrote = False

    def _entry(self, file: str, key: bytes) -> Path:
        name = hashlib.sha256(file.encode() + b"\0" + key).hexdigest() + ".pickle"
        self._used.add(name)
        return self.folder / name

    def get(self, file: str, key: bytes) -> tuple[object | None, list[Problem]] | None:
        found = super().get(file, key)
        if found is not None:
            self._entry(file, key)  # still in use
            return found
        entry = self._entry(file, key)
        try:
            data = entry.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("rules parse cache: cannot read %s: %s", entry, exc)
            return None
        try:
            value, problems = pickle.loads(data)  # noqa: S301 (the user's own cache folder)
        except Exception as exc:  # a truncated or foreign entry: parse the file instead
            log.warning("rules parse cache: ignoring %s: %s", entry, exc)
            return None
        super().put(file, key, value, problems)
        self.hits += 1
        return value, problems

    def put(self, file: str, key: bytes, value: object | None, problems: list[Problem]) -> None:
        super().put(file, key, value, problems)
        if not self._writable:
            return
        try:
            self._write(self._entry(file, key), (value, problems))
        except Exception as exc:  # a full disk or a read-only home must not stop a load
            self._writable = False
            log.warning("rules parse cache: cannot write to %s, not caching: %s", self.folder, exc)

    def _write(self, entry: Path, item: object) -> None:
        if not self.folder.is_dir():
            self.folder.mkdir(parents=True, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".entry-", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(item, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, entry)  # readers see a whole entry or none
        finally:
            Path(tmp).unlink(missing_ok=True)
        self.writes += 1
        self._wrote = True

    def prune(self) -> None:
        """After a load: forget what it did not read, on disk too if the rules changed."""
        super().prune()
        used, wrote = self._used, self._wrote
        self._used, self._wrote = set(), False
        if not wrote:
            return
        try:
            for entry in self.folder.glob("*.pickle"):
                if entry.name not in used:
                    entry.unlink(missing_ok=True)
            for version in self.folder.parent.iterdir():
                if version != self.folder and version.is_dir():
                    shutil.rmtree(version, ignore_errors=True)
        except OSError as exc:
            log.warning("rules parse cache: cannot tidy %s: %s", self.folder, exc)
