"""One FastAGI conversation: the call's environment, and commands sent one at a time.

Asterisk answers every command with one reply line (or a 520-... block), and may slip in an
unprompted 'HANGUP' line at any moment when the caller leaves (AGISIGHUP on FastAGI). That
line is not a reply: it is noted and the real reply is still awaited, so replies never drift
one command behind.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from urllib.parse import parse_qsl

from ivr.agi.protocol import (
    AgiCommandError,
    AgiError,
    AgiHangup,
    AgiTimeout,
    Reply,
    Token,
    continuation_code,
    format_command,
    parse_reply,
)

_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\([A-Za-z0-9_,-]*\))?")
# A value MSet can carry as it is: nothing its argument parsing reads (a comma, a quote, a
# backslash, '=', brackets, '$'), no control character, no blank at either end (it would be
# trimmed): inside MSet's quoted AGI argument such a value is read as plain text, whoever
# wrote it (a caller's name included). Any other value goes by SET VARIABLE, quoted.
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\([a-z]+\))?")  # IVR_ROUTE, CALLERID(name)
_PLAIN_VALUE = re.compile(
    r"(?:[^\s,\"'\\=()\[\]{}$|;\x00-\x1f\x7f](?:[^,\"'\\=()\[\]{}$|;\x00-\x1f\x7f]*[^\s,\"'\\=()\[\]{}$|;\x00-\x1f\x7f])?)?"
)
_MSET_MAX = 1500  # bytes of one MSet command line (a line over 2,000 is refused)
_DIGITS = re.compile(r"[0-9*#A-D]*")

# Commands whose result=-1 means the channel hung up (or failed for good) mid-command.
_HANGUP_ON_MINUS_ONE = frozenset(
    {
        "ANSWER",
        "CONTROL STREAM FILE",
        "EXEC",
        "GET DATA",
        "GET OPTION",
        "RECORD FILE",
        "SAY ALPHA",
        "SAY DIGITS",
        "SAY NUMBER",
        "SAY PHONETIC",
        "STREAM FILE",
        "WAIT FOR DIGIT",
    }
)

# Playing or recording has no natural bound we can know (prompt length, caller's pace).
MEDIA_TIMEOUT = 300.0


def split_script(script: str) -> tuple[str, dict[str, str]]:
    """'inbound?x=1' (agi_network_script) -> ('inbound', {'x': '1'})."""
    path, _, query = script.partition("?")
    return path.strip("/"), dict(parse_qsl(query, keep_blank_values=True))


def _script_of(env: dict[str, str]) -> str:
    script = env.get("agi_network_script")
    if script is not None:
        return script
    # Older peers only send agi_request: agi://host:port/inbound?x=1
    request = env.get("agi_request", "")
    _, sep, rest = request.partition("://")
    return rest.partition("/")[2] if sep else ""


def _variable(name: str) -> Token:
    if not _VARIABLE.fullmatch(name):
        raise ValueError(f"not a channel variable name: {name!r}")
    return Token(name)


class AgiCall:
    """The call Asterisk handed over: env, route, query, args, and the commands to drive it."""

    def __init__(
        self,
        env: dict[str, str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        read_timeout: float = 10.0,
    ) -> None:
        self.env = env
        self.route, self.query = split_script(_script_of(env))
        self.args = _args_of(env)
        self.hung_up = False
        self.read_timeout = read_timeout
        self._reader = reader
        self._writer = writer
        self._in_step = True
        self._busy = False

    def __repr__(self) -> str:
        return f"<AgiCall {self.route} {self.env.get('agi_channel', '?')}>"

    @property
    def in_step(self) -> bool:
        """False once a reply went missing (timeout, cancellation, garbage): stop talking."""
        return self._in_step

    async def command(self, name: str, *args: str | int, timeout: float | None = None) -> Reply:
        """Send one command and return its 200 reply; raise AgiHangup, AgiTimeout, ...

        `timeout` bounds each line read (default: read_timeout).
        """
        line = format_command(name, *args)
        if self.hung_up:
            raise AgiHangup(f"{name}: channel already hung up")
        if not self._in_step:
            raise AgiError(f"{name}: an earlier reply never came, the conversation is lost")
        if self._busy:
            raise RuntimeError("AGI commands on one call must be sent one at a time")
        self._busy = True
        self._in_step = False
        try:
            reply = await self._exchange(line, self.read_timeout if timeout is None else timeout)
        finally:
            self._busy = False
        self._in_step = True
        return self._check(name, reply)

    async def _exchange(self, line: bytes, timeout: float) -> Reply:
        try:
            self._writer.write(line)
            async with asyncio.timeout(timeout):
                await self._writer.drain()
            first = await self._read_reply_line(timeout)
            code = continuation_code(first)
            if code is None:
                return parse_reply(first)
            lines = [first]
            while not lines[-1].startswith(code + " "):
                lines.append(await self._read_line(timeout))
            return parse_reply("\n".join(lines))
        except ConnectionError as exc:
            self.hung_up = True
            raise AgiHangup(f"connection lost: {exc}") from exc
        except TimeoutError as exc:
            raise AgiTimeout(f"no reply from Asterisk within {timeout:g} s") from exc

    async def _read_reply_line(self, timeout: float) -> str:
        while True:
            line = await self._read_line(timeout)
            if line != "HANGUP":
                return line
            self.hung_up = True

    async def _read_line(self, timeout: float) -> str:
        try:
            async with asyncio.timeout(timeout):
                raw = await self._reader.readline()
        except ValueError as exc:  # a line longer than the stream's limit
            raise AgiError("AGI reply line too long") from exc
        if not raw.endswith(b"\n"):
            self.hung_up = True
            raise AgiHangup("Asterisk closed the connection")
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def _check(self, name: str, reply: Reply) -> Reply:
        if reply.code == 511:
            self.hung_up = True
            raise AgiHangup(f"{name}: {reply.message}")
        if reply.code != 200:
            raise AgiCommandError(f"{name}: {reply.code} {reply.message}", reply)
        if reply.result == "-1" and name in _HANGUP_ON_MINUS_ONE:
            self.hung_up = True
            raise AgiHangup(f"{name}: result=-1")
        return reply

    # -- the commands the routes use ------------------------------------------------------

    async def get_variable(self, name: str) -> str | None:
        """A variable or function value (CALLERID(num)); None if unset."""
        reply = await self.command("GET VARIABLE", _variable(name))
        return reply.data if reply.result == "1" else None

    async def get_full_variable(self, expr: str) -> str | None:
        """Evaluate an expression like '${CALLERID(num)}'. Asterisk runs what it is given:
        never pass text that came from the caller."""
        reply = await self.command("GET FULL VARIABLE", expr)
        return reply.data if reply.result == "1" else None

    async def set_variable(self, name: str, value: str) -> None:
        await self.command("SET VARIABLE", _variable(name), value)

    async def set_variables(self, values: Mapping[str, str]) -> None:
        """Set several variables with as few round trips as it safely can: the plain ones
        (see _PLAIN_VALUE) together in MSet commands, every other one by SET VARIABLE."""
        plain: list[str] = []
        for name, value in values.items():
            if _PLAIN_NAME.fullmatch(name) and _PLAIN_VALUE.fullmatch(value):
                plain.append(f"{name}={value}")
            else:
                await self.set_variable(name, value)
        while plain:
            chunk: list[str] = []
            while plain and len(",".join([*chunk, plain[0]])) <= _MSET_MAX:
                chunk.append(plain.pop(0))
            if not chunk:  # one pair longer than a line: never with plain values that long
                name, _, value = plain.pop(0).partition("=")
                await self.set_variable(name, value)
                continue
            await self.exec("MSet", ",".join(chunk), timeout=self.read_timeout)

    async def answer(self) -> None:
        await self.command("ANSWER")

    async def hangup(self) -> None:
        await self.command("HANGUP")
        self.hung_up = True

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command("VERBOSE", message, level)

    async def stream_file(
        self, name: str, escape_digits: str = "", *, timeout: float = MEDIA_TIMEOUT
    ) -> str:
        """Play a sound; return the escape digit pressed, or ''."""
        reply = await self.command("STREAM FILE", name, _digits(escape_digits), timeout=timeout)
        return _digit(reply.result)

    async def get_data(
        self, prompt: str, timeout_ms: int, max_digits: int, *, timeout: float = MEDIA_TIMEOUT
    ) -> str:
        """Play a prompt and read up to max_digits DTMF digits; '' if none came in time."""
        reply = await self.command("GET DATA", prompt, timeout_ms, max_digits, timeout=timeout)
        return reply.result

    async def exec(self, app: str, *args: str, timeout: float = MEDIA_TIMEOUT) -> Reply:
        """Run a dialplan application. Each arg is one option; a ',' inside one splits it."""
        command_args: tuple[str | int, ...] = (
            (Token(app), ",".join(args)) if args else (Token(app),)
        )
        reply = await self.command("EXEC", *command_args, timeout=timeout)
        if reply.result == "-2":
            raise AgiCommandError(f"EXEC: no application {app!r}", reply)
        return reply

    async def record_file(
        self,
        path: str,
        fmt: str,
        escape_digits: str,
        timeout_ms: int,
        beep: bool = True,
        silence_s: int | None = None,
    ) -> Reply:
        """Record to path.fmt until an escape digit, timeout_ms (-1: none) or silence_s."""
        args: list[str | int] = [path, Token(fmt), _digits(escape_digits), timeout_ms]
        if beep:
            args.append(Token("BEEP"))
        if silence_s is not None:
            args.append(Token(f"s={int(silence_s)}"))
        limit = MEDIA_TIMEOUT if timeout_ms < 0 else timeout_ms / 1000 + self.read_timeout
        return await self.command("RECORD FILE", *args, timeout=limit)


def _args_of(env: dict[str, str]) -> list[str]:
    args: list[str] = []
    while (value := env.get(f"agi_arg_{len(args) + 1}")) is not None:
        args.append(value)
    return args


def _digits(escape_digits: str) -> str:
    if not _DIGITS.fullmatch(escape_digits):
        raise ValueError(f"not DTMF digits: {escape_digits!r}")
    return escape_digits


def _digit(result: str) -> str:
    """STREAM FILE answers with the ASCII code of the digit pressed, 0 for none."""
    try:
        code = int(result)
    except ValueError:
        return ""
    return chr(code) if code > 0 else ""
