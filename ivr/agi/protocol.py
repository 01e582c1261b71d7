"""The FastAGI wire format: quoting commands, reading the environment, parsing replies.

Pure functions, no I/O. What Asterisk's res_agi does with what we send is the reference:
it reads one command per line into a 2048-byte buffer (AGI_BUF_LEN) and splits it with
parse_args(), where a backslash escapes the next character, a double quote toggles quoting
and a space or tab outside quotes ends an argument.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field


class AgiError(Exception):
    """Something went wrong talking AGI."""


class AgiHangup(AgiError):
    """The channel is gone: HANGUP seen, 511, end of stream, or result=-1 meaning hang-up."""


class AgiTimeout(AgiError):
    """Asterisk did not answer in time; the conversation can no longer be trusted."""


class AgiCommandError(AgiError):
    """Asterisk refused a command (510, 520 or any other non-200 code)."""

    def __init__(self, message: str, reply: Reply | None = None) -> None:
        super().__init__(message)
        self.reply = reply


# Asterisk treats whatever does not fit its 2048-byte buffer as the NEXT command: a long
# caller-supplied value could smuggle a command in. Stay well clear of the edge.
MAX_LINE_BYTES = 2000

_COMMAND_NAME = re.compile(r"[A-Z][A-Z ]*")
_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_(),.=-]*")
_UNSAFE = str.maketrans({"\r": " ", "\n": " ", "\0": " "})
_ESCAPE = str.maketrans({"\\": "\\\\", '"': '\\"', "\r": " ", "\n": " ", "\0": " "})
_CONTINUATION = re.compile(r"(\d{3})-")
_STATUS = re.compile(r"(\d{3})(?: (.*))?")
_EXTRA = re.compile(r"(\w+)=(\S*)")


class Token(str):
    """A bare word sent unquoted (a variable or application name); validated on creation."""

    __slots__ = ()

    def __new__(cls, value: str) -> Token:
        if not _TOKEN.fullmatch(value):
            raise ValueError(f"not a safe bare AGI word: {value!r}")
        return super().__new__(cls, value)


def clean(text: str) -> str:
    """Text with CR, LF and NUL (which cannot travel inside an AGI line) turned into spaces."""
    return text.translate(_UNSAFE)


def quote(arg: str | int) -> str:
    """One AGI argument: double-quoted, backslash and quote escaped, CR/LF/NUL made spaces."""
    return '"' + str(arg).translate(_ESCAPE) + '"'


def format_command(name: str, *args: str | int) -> bytes:
    """One command line. Integers and Token words go bare; every other argument is quoted."""
    if not _COMMAND_NAME.fullmatch(name):
        raise ValueError(f"not an AGI command name: {name!r}")
    parts = [name]
    for arg in args:
        if isinstance(arg, Token):
            parts.append(str(arg))
        elif isinstance(arg, int) and not isinstance(arg, bool):
            parts.append(str(arg))
        elif isinstance(arg, str):
            parts.append(quote(arg))
        else:
            raise TypeError(f"AGI argument must be str or int, not {type(arg).__name__}")
    line = (" ".join(parts) + "\n").encode()
    if len(line) > MAX_LINE_BYTES:
        raise ValueError(f"AGI command {name} is {len(line)} bytes, over {MAX_LINE_BYTES}")
    return line


def parse_env(lines: Iterable[str]) -> dict[str, str]:
    """The agi_* block Asterisk sends first: 'key: value' lines, up to the first blank one.

    A line without a key, or a key given twice, is refused: both mean the block was not
    written by Asterisk as intended (a value carrying a newline, say).
    """
    env: dict[str, str] = {}
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            break
        key, sep, value = line.partition(":")
        if not sep or not key or " " in key:
            raise AgiError(f"malformed AGI environment line: {line[:80]!r}")
        if key in env:
            raise AgiError(f"AGI environment key given twice: {key!r}")
        env[key] = value[1:] if value.startswith(" ") else value
    return env


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply: '200 result=1 (value) endpos=1234' -> 200, '1', 'value', {'endpos': '1234'}."""

    code: int
    result: str = ""
    data: str | None = None  # the text in parentheses, if any
    extra: dict[str, str] = field(default_factory=dict)  # endpos=..., and for 520: usage
    raw: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def message(self) -> str:
        """What follows the code, for non-200 replies ('Invalid or unknown command')."""
        first = self.raw.split("\n", 1)[0]
        return first[4:]


def continuation_code(line: str) -> str | None:
    """'520' for a '520-...' line opening a multi-line reply, else None."""
    match = _CONTINUATION.match(line)
    return match.group(1) if match else None


def parse_reply(text: str) -> Reply:
    """Parse one reply line, or a whole multi-line '520-...' to '520 ...' block."""
    text = text.rstrip("\r\n")
    lines = text.split("\n")
    first = lines[0].rstrip("\r")
    code = continuation_code(first)
    if code is not None:
        usage = "\n".join(line.rstrip("\r") for line in lines[1:-1])
        return Reply(int(code), extra={"usage": usage}, raw=text)
    match = _STATUS.fullmatch(first)
    if match is None:
        raise AgiError(f"malformed AGI reply: {first[:80]!r}")
    status, rest = int(match.group(1)), match.group(2) or ""
    if status != 200 or not rest.startswith("result="):
        return Reply(status, raw=text)
    return _parse_result(status, rest[len("result=") :], text)


def _parse_result(status: int, rest: str, raw: str) -> Reply:
    result, _, tail = rest.partition(" ")
    data = None
    if tail.startswith("("):
        # The value is everything up to the LAST ')': a variable's value may hold parentheses.
        close = tail.rfind(")")
        if close > 0:
            data, tail = tail[1:close], tail[close + 1 :]
    extra = dict(_EXTRA.findall(tail))
    return Reply(status, result, data, extra, raw)
