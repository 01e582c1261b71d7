"""AMI messages: one block of `Key: Value` lines ended by a blank line.

A Message keeps every line in order, duplicates included (Originate's `Variable:` lines, a
Command's `Output:` lines), and looks keys up without regard to case, as Asterisk does.
encode() is the only way bytes are made for the wire, and it refuses CR, LF and (in keys) ':'
so that a value taken from a call, such as a caller ID name, can never smuggle in a header.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

Fields = Mapping[str, str] | Sequence[tuple[str, str]]


class Message(Mapping[str, str]):
    """An ordered, case-insensitive, read-only view of one AMI message.

    `msg[key]` is the first value of that key; `msg.getall(key)` is every value, in order.
    """

    __slots__ = ("_fields", "_index")

    def __init__(self, fields: Fields = ()) -> None:
        pairs = fields.items() if isinstance(fields, Mapping) else fields
        self._fields: tuple[tuple[str, str], ...] = tuple((str(k), str(v)) for k, v in pairs)
        self._index: dict[str, list[str]] = {}
        for key, value in self._fields:
            self._index.setdefault(key.lower(), []).append(value)

    def __getitem__(self, key: str) -> str:
        return self._index[key.lower()][0]

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for key, _ in self._fields:
            if key.lower() not in seen:
                seen.add(key.lower())
                yield key

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return f"Message({list(self._fields)!r})"

    def getall(self, key: str) -> list[str]:
        """Every value of `key`, in the order received; [] if absent."""
        return list(self._index.get(key.lower(), ()))

    @property
    def fields(self) -> tuple[tuple[str, str], ...]:
        """Every (key, value) line, in order, duplicates included."""
        return self._fields

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
        key, sep, value = line.removesuffix("\r").partition(":")
        if not sep or not key.strip():
            continue
        # Like Asterisk's own header lookup: blanks after the colon are not part of the value.
        pairs.append((key.strip(), value.lstrip(" \t")))
    return Message(pairs)


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
