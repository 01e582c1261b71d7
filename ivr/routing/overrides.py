"""Manual overrides: "Rossi is closed until Monday", set by a person, expiring by itself.

Overrides are plain data passed to evaluate(); OverrideStore keeps them as a small JSON file
(written atomically) so the CLI and the server share them without a database.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

OVERRIDES_FILE = "overrides.json"  # in the state folder: shared by `ivr override` and the engine
MODES = ("open", "closed", "message", "forward", "group")
ALL_CLIENTS = "*"


class OverrideError(ValueError):
    """An override that cannot be stored or read."""


@dataclass(frozen=True)
class Override:
    """One manual override of one client ("*": every client).

    mode: "open" / "closed" force the opening state and the client's rules still decide;
    "message" takes a message; "forward" rings `target` (an outside number) then takes a
    message; "group" rings the group `target` then takes a message.
    """

    client: str
    mode: str
    until: datetime | None = None  # aware; None: until cleared
    target: str = ""
    reason: str = ""
    set_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise OverrideError(f"override mode {self.mode!r}: one of {', '.join(MODES)}")
        if self.mode in ("forward", "group") and not self.target:
            raise OverrideError(f"override mode {self.mode!r} needs a target")
        if self.mode == "forward" and not (self.target.isdigit() and self.target.isascii()):
            raise OverrideError(f"forward target {self.target!r}: digits only")
        for stamp in (self.until, self.set_at):
            if stamp is not None and stamp.tzinfo is None:
                raise OverrideError("override times need a time zone (an aware datetime)")

    def active(self, now: datetime) -> bool:
        return self.until is None or now < self.until

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("until", "set_at"):
            data[key] = data[key].isoformat() if data[key] is not None else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Override:
        try:
            values = dict(data)
            for key in ("until", "set_at"):
                if values.get(key):
                    values[key] = datetime.fromisoformat(values[key])
            return cls(**values)
        except (TypeError, ValueError) as exc:
            raise OverrideError(f"bad override {data!r}: {exc}") from exc


@dataclass(frozen=True)
class Overrides:
    """The overrides in force, indexed by client; at most one per client."""

    items: tuple[Override, ...] = ()
    _by_client: dict[str, Override] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for item in self.items:
            self._by_client[item.client] = item  # the later one wins

    def for_client(self, client_id: str, now: datetime) -> Override | None:
        found = self._by_client.get(client_id) or self._by_client.get(ALL_CLIENTS)
        if found is not None and found.active(now):
            return found
        return None

    def with_override(self, item: Override) -> Overrides:
        return Overrides((*(o for o in self.items if o.client != item.client), item))

    def without(self, client_id: str) -> Overrides:
        return Overrides(tuple(o for o in self.items if o.client != client_id))

    def expired_removed(self, now: datetime) -> Overrides:
        return Overrides(tuple(o for o in self.items if o.active(now)))


class OverrideStore:
    """Overrides kept as JSON at `path`; every write replaces the file atomically."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> Overrides:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Overrides()
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise OverrideError(f"{self.path}: not JSON: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("overrides"), list):
            raise OverrideError(f"{self.path}: expected {{'overrides': [...]}}")
        return Overrides(tuple(Override.from_json(item) for item in data["overrides"]))

    def save(self, overrides: Overrides) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"overrides": [o.to_json() for o in overrides.items]}, indent=2)
        fd, tmp = tempfile.mkstemp(prefix=".overrides-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
            os.replace(tmp, self.path)
        finally:
            Path(tmp).unlink(missing_ok=True)  # only still there if the write failed

    def set(self, item: Override, now: datetime) -> Overrides:
        overrides = self.load().expired_removed(now).with_override(item)
        self.save(overrides)
        return overrides

    def clear(self, client_id: str, now: datetime) -> bool:
        """Remove a client's override; False if it had none."""
        current = self.load()
        remaining = current.without(client_id).expired_removed(now)
        self.save(remaining)
        return len(remaining.items) != len(current.expired_removed(now).items)


class OverridesSource(Protocol):
    """Where the call path reads the overrides in force, and the area sets them: the state
    folder's file (one engine) or the shared database (ivr/nodes/overrides.py)."""

    def current(self) -> Overrides: ...

    async def put(self, item: Override, now: datetime) -> None: ...

    async def remove(self, client: str, now: datetime) -> bool: ...

    def status(self, now: datetime) -> dict[str, Any]: ...


class OverridesFile:
    """The overrides in force for the call path: the file is read again only when it changed.

    One stat per call; a file that does not parse keeps the last good overrides (and says so
    in the log), because a person's typo must not reroute every call.
    """

    def __init__(self, path: Path) -> None:
        self.store = OverrideStore(path)
        self._stamp: tuple[int, int] | None = None
        self._overrides = Overrides()
        self.last_error: str | None = None

    def current(self) -> Overrides:
        try:
            info = self.store.path.stat()
            stamp: tuple[int, int] | None = (info.st_mtime_ns, info.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return self._overrides
        self._stamp = stamp
        try:
            self._overrides = self.store.load() if stamp is not None else Overrides()
            self.last_error = None
        except OverrideError as exc:
            self.last_error = str(exc)
            log.error("overrides file rejected, keeping the previous overrides: %s", exc)
        return self._overrides

    async def put(self, item: Override, now: datetime) -> None:
        """Set a client's override (replacing any)."""
        self.store.set(item, now)

    async def remove(self, client: str, now: datetime) -> bool:
        """Remove a client's override; False if it had none."""
        return self.store.clear(client, now)

    def status(self, now: datetime) -> dict[str, Any]:
        """For `ivr status`: the overrides in force now, and why the file was refused if it was."""
        active = [o for o in self.current().items if o.active(now)]
        return {
            "path": str(self.store.path),
            "in_force": {o.client: o.mode for o in active},
            "last_error": self.last_error,
        }
