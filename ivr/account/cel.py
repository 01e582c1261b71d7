"""Asterisk's own account of every call: CEL lines it appends to a file, read back.

Asterisk writes the account (cel_custom, see asterisk_conf/cel_custom.conf.j2) whether or
not the engine runs. read_account() reads it from a byte position onwards, one complete
record at a time (a record being appended right now is left for the next read), and groups
the events by call (linkedid).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ivr.config import Settings

# The columns of each line, in the order asterisk_conf/cel_custom.conf.j2 writes them.
FIELDS = (
    "EventType",
    "EventTime",
    "UniqueID",
    "LinkedID",
    "ChanName",
    "Context",
    "Exten",
    "Num",
    "Name",
    "AppName",
    "AppData",
    "AccountCode",
)
EVENTS = ("CHAN_START", "ANSWER", "APP_START", "LINKEDID_END")
# Record: the message a caller left; NoOp: the failure context's first step (the engine did
# not answer: the call went on without it).
APPS = ("record", "noop")
FILE_NAME = "ivr-cel.csv"
# Rotation: the file is renamed to PENDING (Asterisk opens the file for each line it writes,
# so its next line starts a new file); once the reconciliation has read PENDING to its end
# with no call of it still up, it becomes an archive named by the time it was closed.
PENDING = FILE_NAME + ".pending"
BLANKED = ".blanked"  # an archive whose every line is past retention, already blanked
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CelEvent:
    kind: str
    at: datetime
    uniqueid: str
    linkedid: str
    channel: str
    context: str
    exten: str
    caller_number: str
    caller_name: str
    app: str
    app_data: str
    account: str = ""  # set on calls the engine placed itself


@dataclass
class CallAccount:
    """Everything the account says about one call, and where it starts in the file."""

    linkedid: str
    first_position: int
    events: list[CelEvent] = field(default_factory=list)

    @property
    def start(self) -> CelEvent | None:
        """The caller's channel coming up: the call's number, caller and first context."""
        return next(
            (e for e in self.events if e.kind == "CHAN_START" and e.uniqueid == self.linkedid),
            None,
        )

    @property
    def ended_at(self) -> datetime | None:
        return next((e.at for e in self.events if e.kind == "LINKEDID_END"), None)

    @property
    def last_at(self) -> datetime:
        return max(e.at for e in self.events)


def account_path(settings: Settings) -> Path:
    """Where Asterisk writes its account, as the engine sees it."""
    return settings.host_path(settings.run_dir / "log" / FILE_NAME)


def parse_time(value: str) -> datetime | None:
    whole, _, fraction = value.strip().partition(".")
    if not whole.isdigit() or (fraction and not fraction.isdigit()):
        return None
    micros = int((fraction + "000000")[:6]) if fraction else 0
    return _EPOCH + timedelta(seconds=int(whole), microseconds=micros)


def _event(row: list[str]) -> CelEvent | None:
    if len(row) < len(FIELDS) - 1:  # AccountCode came last: older lines lack it
        return None
    values = dict(zip(FIELDS, row, strict=False))
    at = parse_time(values["EventTime"])
    if at is None or not values["LinkedID"]:
        return None
    return CelEvent(
        kind=values["EventType"],
        at=at,
        uniqueid=values["UniqueID"],
        linkedid=values["LinkedID"],
        channel=values["ChanName"],
        context=values["Context"],
        exten=values["Exten"],
        caller_number=values["Num"].strip(" "),  # blanked by a purge: spaces
        caller_name=values["Name"].strip(" "),
        app=values["AppName"],
        app_data=values["AppData"],
        account=values.get("AccountCode", ""),
    )


def complete_records(data: bytes) -> list[tuple[int, bytes]]:
    """(offset, bytes) of every complete record: ended by a newline outside quotes (a value
    may hold a newline; a quote inside a value is doubled, so quotes pair up)."""
    out = []
    start = position = quotes = 0
    while (newline := data.find(b"\n", position)) >= 0:
        quotes += data.count(b'"', position, newline)
        position = newline + 1
        if quotes % 2 == 0:
            out.append((start, data[start:position]))
            start, quotes = position, 0
    return out


def read_account(path: Path, position: int) -> tuple[dict[str, CallAccount], int]:
    """The calls of the account from byte `position`, and the position after the last
    complete record. A file shorter than `position` was rotated: it is read from its start.
    """
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, io.SEEK_END)
            if size < position:
                position = 0
            handle.seek(position)
            data = handle.read()  # a day's account is tens of megabytes: read it whole
    except FileNotFoundError:
        return {}, 0
    calls: dict[str, CallAccount] = {}
    end = position
    for offset, raw in complete_records(data):
        end = position + offset + len(raw)
        text = raw.decode("utf-8", "replace")
        for row in csv.reader(io.StringIO(text, newline="")):
            event = _event(row)
            if event is None:
                continue
            account = calls.get(event.linkedid)
            if account is None:
                account = calls[event.linkedid] = CallAccount(event.linkedid, position + offset)
            account.events.append(event)
    return calls, end


def pending_path(path: Path) -> Path:
    return path.with_name(PENDING)


def archives(path: Path) -> list[Path]:
    """The account's earlier files beside `path`, oldest first (the pending one last)."""
    found = sorted(p for p in path.parent.glob(FILE_NAME + ".*") if p.name != PENDING)
    pending = pending_path(path)
    return found + ([pending] if pending.exists() else [])


def archive_pending(path: Path, at: datetime) -> Path:
    """The pending file, read to its end, becomes an archive named by `at`."""
    target = path.with_name(f"{FILE_NAME}.{at.astimezone(UTC):%Y%m%dT%H%M%S}")
    pending_path(path).rename(target)
    return target


def first_time(path: Path, head: int = 1 << 16) -> datetime | None:
    """When the file's first complete record happened (reads its head only)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(head)
    except FileNotFoundError:
        return None
    for _, raw in complete_records(data):
        for row in csv.reader(io.StringIO(raw.decode("utf-8", "replace"), newline="")):
            event = _event(row)
            if event is not None:
                return event.at
    return None
