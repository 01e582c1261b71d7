"""AMI messages: one block of `Key: Value` lines ended by a blank line.

A Message keeps every line in order, duplicates included (Originate's `Variable:` lines, a
Command's `Output:` lines), and looks keys up without regard to case, as Asterisk does.
encode() is the only way bytes are made for the wire, and it refuses CR, LF and (in keys) ':'
so that a value taken from a call, such as a caller ID name, can never smuggle in a header.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

Fields = Mapping[str, str] | Sequence[tuple[str, str]]


class Message(Mapping[str, str]):
    """An ordered, case-insensitive, read-only view of one AMI message.

    `msg[key]` is the first value of that key; `msg.getall(key)` is every value, in order.
    """

    # Flat (key, value, key, value, ...) strings and a dict of first values: objects the
    # garbage collector need not follow, so a backlog of events costs it nothing.
    __slots__ = ("_flat", "_first")

    def __init__(self, fields: Fields = ()) -> None:
        pairs = fields.items() if isinstance(fields, Mapping) else fields
        self._set([(str(k), str(v)) for k, v in pairs])

    @classmethod
    def of_strings(cls, pairs: Sequence[tuple[str, str]]) -> Message:
        """A message from (key, value) pairs already known to be str (what parse() makes)."""
        message = cls.__new__(cls)
        message._set(pairs)
        return message

    def _set(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._flat: tuple[str, ...] = tuple(x for pair in pairs for x in pair)
        self._first: dict[str, str] = {k.lower(): v for k, v in reversed(pairs)}

    def __getitem__(self, key: str) -> str:
        return self._first[key.lower()]

    def get(self, key: str, default: Any = None) -> Any:
        return self._first.get(key.lower(), default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._first

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for key, _ in self.fields:
            if key.lower() not in seen:
                seen.add(key.lower())
                yield key

    def __len__(self) -> int:
        return len(self._first)

    def __repr__(self) -> str:
        return f"Message({list(self.fields)!r})"

    def getall(self, key: str) -> list[str]:
        """Every value of `key`, in the order received; [] if absent."""
        lower = key.lower()
        return [v for k, v in self.fields if k.lower() == lower]

    @property
    def fields(self) -> tuple[tuple[str, str], ...]:
        """Every (key, value) line, in order, duplicates included."""
        flat = self._flat
        return tuple(zip(flat[::2], flat[1::2], strict=True))

    @property
    def event(self) -> str | None:
        return self.get("Event")

    @property
    def response(self) -> str | None:
        return self.get("Response")

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    @property
    def timestamp(self) -> float | None:
        """Asterisk's `Timestamp:` (manager.conf timestampevents=yes), as epoch seconds."""
        value = self.get("Timestamp")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None


# Asterisk C-escapes caller and connected-line names in AMI events (ast_escape_c): these
# characters arrive as a backslash and the letter beside them.
_C_ESCAPES = dict(zip("abfnrtv\\'\"?", "\a\b\f\n\r\t\v\\'\"?", strict=True))


def unescape_c(value: str) -> str:
    """Undo Asterisk's ast_escape_c: `\\n` is a newline, `\\\\` a backslash, `\\"` a quote."""
    if "\\" not in value:
        return value
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        following = next(chars, "")
        replaced = _C_ESCAPES.get(following)
        out.append(replaced if replaced is not None else "\\" + following)
    return "".join(out)


def parse(block: bytes | str) -> Message:
    """One message from its lines (CRLF or bare LF); lines without ':' are skipped."""
    text = block.decode("utf-8", errors="replace") if isinstance(block, bytes) else block
    pairs: list[tuple[str, str]] = []
    # Only LF ends a line: str.splitlines() would also split on U+2028, FF, ... in a value.
    for line in text.split("\n"):
        key, sep, value = line.partition(":")
        if not sep or not (key := key.strip()):
            continue
        # Like Asterisk's own header lookup: blanks after the colon are not part of the value.
        pairs.append((key, value.removesuffix("\r").lstrip(" \t")))
    return Message.of_strings(pairs)


def _check(key: str, value: str) -> None:
    if not isinstance(key, str) or not isinstance(value, str):
        raise TypeError(f"AMI field {key!r}: key and value must be str, got {value!r}")
    if not key.strip():
        raise ValueError("AMI field with an empty key")
    if "\r" in key or "\n" in key or ":" in key:
        raise ValueError(f"AMI key {key!r} contains CR, LF or ':'")
    if "\r" in value or "\n" in value:
        raise ValueError(f"AMI field {key!r}: value contains CR or LF")


def encode(fields: Fields) -> bytes:
    """The wire form: `Key: Value` CRLF lines and a blank line; ValueError on an injection."""
    pairs: Iterable[tuple[str, str]] = fields.items() if isinstance(fields, Mapping) else fields
    lines = []
    for key, value in pairs:
        _check(key, value)
        lines.append(f"{key}: {value}\r\n")
    if not lines:
        raise ValueError("an AMI message needs at least one field")
    return ("".join(lines) + "\r\n").encode("utf-8")
