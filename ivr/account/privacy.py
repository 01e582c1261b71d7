"""Personal data in Asterisk's own account (the CEL file): the daily purge and an erasure
blank callers' numbers and names there too.

The reconciliation keeps byte positions into the file and Asterisk keeps appending to it, so
the file is never rewritten or shortened: each value removed is overwritten in place by
spaces of the same length (the reader strips them). Asterisk only ever writes at the end, so
a line already complete is the engine's alone to change.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from ivr.account.cel import BLANKED, FIELDS, archives, complete_records, first_time, parse_time

_LINKEDID = FIELDS.index("LinkedID")
_TIME = FIELDS.index("EventTime")
_EXTEN = FIELDS.index("Exten")
_PERSONAL = (FIELDS.index("Num"), FIELDS.index("Name"))
_APPDATA = FIELDS.index("AppData")


def _spans(record: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of each quoted value's content in one record (every value is quoted,
    a quote inside one doubled: asterisk_conf/cel_custom.conf.j2)."""
    position = 0
    while (start := record.find(b'"', position)) >= 0:
        cursor = start + 1
        while True:
            close = record.find(b'"', cursor)
            if close < 0:
                return
            if record[close + 1 : close + 2] == b'"':
                cursor = close + 2
                continue
            break
        yield start + 1, close
        position = close + 1


def blank_account(
    path: Path,
    *,
    linkedids: frozenset[str] = frozenset(),
    numbers: frozenset[str] = frozenset(),
    before: datetime | None = None,
) -> int:
    """Blank the caller's number and name (and a dialled number that is one of `numbers`)
    on every line of these calls, naming these numbers, or older than `before`. Returns
    how many lines were changed."""
    try:
        handle = open(path, "r+b")  # noqa: SIM115 - closed below, after the writes
    except FileNotFoundError:
        return 0
    changed = 0
    with handle:
        data = handle.read()
        for offset, raw in complete_records(data):
            row = next(csv.reader(io.StringIO(raw.decode("utf-8", "replace"), newline="")), [])
            if len(row) <= max(_PERSONAL):
                continue
            at = parse_time(row[_TIME])
            mine = row[_LINKEDID] in linkedids or row[_PERSONAL[0]].strip() in numbers
            old = before is not None and at is not None and at < before
            if not (mine or old):
                continue
            spans = list(_spans(raw))
            if len(spans) <= max(_PERSONAL):
                continue
            targets = list(_PERSONAL)
            if row[_EXTEN] in numbers:
                targets.append(_EXTEN)
            if any(n and n in row[_APPDATA] for n in numbers):  # a step's data naming them
                targets.append(_APPDATA)
            wrote = False
            for index in targets:
                start, end = spans[index]
                if raw[start:end].strip(b" "):
                    handle.seek(offset + start)
                    handle.write(b" " * (end - start))
                    wrote = True
            changed += wrote
        handle.flush()
    return changed


def blank_old(path: Path, before: datetime) -> int:
    """The daily purge: blank every line older than `before` in the account and its
    archives, reading only the files that may hold one: a file whose first line is not
    older is skipped unread; an archive wholly older is blanked once and renamed so that it
    is never read again. Lines changed."""
    changed = 0
    for file in [*archives(path), path]:
        if file.name.endswith(BLANKED):
            continue
        first = first_time(file)
        if first is None or first >= before:
            continue
        # its last line was written before it was last changed (the blanking changes it)
        ended = datetime.fromtimestamp(file.stat().st_mtime, tz=before.tzinfo)
        changed += blank_account(file, before=before)
        if file != path and file.name.endswith(tuple("0123456789")) and ended < before:
            file.rename(file.with_name(file.name + BLANKED))
    return changed


def account_files(path: Path) -> list[Path]:
    """Every file of the account (an erasure reads them all)."""
    return [*archives(path), path]
