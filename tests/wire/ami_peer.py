"""A scripted AMI server on 127.0.0.1, standing in for Asterisk 22's manager interface.

It greets with Asterisk's banner, checks Login, answers Ping and Logoff, and answers other
actions from a script; every other action is also queued so a test can read what the client
sent and, for unscripted actions, answer by hand in whatever order it likes. It can push
events, drop every connection, and stop and start again on the same port (an Asterisk
restart). It writes its own bytes rather than using ivr.ami.message.encode, so the client's
encoder and parser are not only ever checked against themselves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from ivr.ami.message import Message, parse

BANNER = b"Asterisk Call Manager/11.0.0\r\n"

Lines = Sequence[tuple[str, str]]
# An answer gets the action and returns the messages to send back (None: leave unanswered).
Answer = Callable[[Message], list[Lines] | None]


class _Watch:
    """wait_until(predicate) wakes on every notify() and checks again; notify() is sync."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def notify(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.add(waiter)
                await waiter


def wire(lines: Lines) -> bytes:
    return ("".join(f"{key}: {value}\r\n" for key, value in lines) + "\r\n").encode()


class _Session:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.logged_in = False

    async def send(self, lines: Lines) -> None:
        self.writer.write(wire(lines))
        await self.writer.drain()


class AmiPeer:
    def __init__(
        self,
        *,
        username: str = "ivr",
        secret: str = "s3cret",
        banner: bytes | None = BANNER,
        timestamps: bool = True,
    ) -> None:
        self.username = username
        self.secret = secret
        self.banner = banner  # None: accept and say nothing (a hung server)
        self.timestamps = timestamps  # manager.conf timestampevents=yes
        self.answer_pings = True
        self.port = 0
        self.connections = 0
        self.login_attempts = 0
        self.logins = 0
        self.pings = 0
        self.script: dict[str, Answer] = {}
        self.actions: asyncio.Queue[Message] = asyncio.Queue()
        self._watch = _Watch()
        self._server: asyncio.Server | None = None
        self._sessions: dict[asyncio.Task[None], _Session] = {}

    # -- control ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1; on the same port as before when restarted."""
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and cut every connection, as an Asterisk shutdown does."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self.drop()

    async def drop(self) -> None:
        """Cut every connection (RST) but keep listening."""
        tasks = list(self._sessions)
        for session in self._sessions.values():
            session.writer.transport.abort()
        if tasks:
            await asyncio.wait(tasks)

    @property
    def open_sessions(self) -> int:
        return len(self._sessions)

    def on(self, action: str, answer: Answer) -> None:
        """Answer `action` (any case) with what answer() returns."""
        self.script[action.lower()] = answer

    async def send(self, lines: Lines) -> None:
        """Send a message (an event, or a hand-made response) to every logged-in client."""
        for session in list(self._sessions.values()):
            if session.logged_in:
                await session.send(self._stamped(lines))

    async def next_action(self, timeout: float = 5.0) -> Message:
        async with asyncio.timeout(timeout):
            return await self.actions.get()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        await self._watch.wait_until(predicate, timeout)

    # -- serving ---------------------------------------------------------------------------

    def _stamped(self, lines: Lines) -> Lines:
        keys = {key.lower() for key, _ in lines}
        if self.timestamps and "event" in keys and "timestamp" not in keys:
            return [*lines, ("Timestamp", f"{time.time():.6f}")]
        return lines

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        session = _Session(reader, writer)
        self._sessions[task] = session
        self.connections += 1
        self._watch.notify()
        try:
            if self.banner is not None:
                writer.write(self.banner)
            while (action := await self._read(reader)) is not None:
                if not await self._handle(session, action):
                    break
        except (ConnectionError, OSError):
            pass  # the client went away; that is its right
        finally:
            del self._sessions[task]
            writer.close()
            self._watch.notify()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> Message | None:
        lines: list[bytes] = []
        while line := await reader.readline():
            if line.strip():
                lines.append(line)
            elif lines:
                return parse(b"".join(lines))
        return None

    async def _handle(self, session: _Session, action: Message) -> bool:
        """Answer one action; False closes the connection."""
        name = (action.get("Action") or "").lower()
        action_id = action.get("ActionID", "")
        if name == "login":
            return await self._login(session, action, action_id)
        if not session.logged_in:
            await session.send(
                [("Response", "Error"), ("ActionID", action_id), ("Message", "Permission denied")]
            )
            return True
        if name == "ping":
            self.pings += 1
            self._watch.notify()
            if self.answer_pings:
                ping = [("Response", "Success"), ("ActionID", action_id), ("Ping", "Pong")]
                await session.send([*ping, ("Timestamp", f"{time.time():.6f}")])
            return True
        if name == "logoff":
            await session.send(
                [("Response", "Goodbye"), ("ActionID", action_id), ("Message", "Bye")]
            )
            return False
        self.actions.put_nowait(action)
        self._watch.notify()
        answer = self.script.get(name)
        for lines in (answer(action) if answer else None) or []:
            await session.send(self._stamped(lines))
        return True

    async def _login(self, session: _Session, action: Message, action_id: str) -> bool:
        self.login_attempts += 1
        ok = action.get("Username") == self.username and action.get("Secret") == self.secret
        if not ok:
            await session.send(
                [
                    ("Response", "Error"),
                    ("ActionID", action_id),
                    ("Message", "Authentication failed"),
                ]
            )
            self._watch.notify()
            return False  # Asterisk hangs up after a failed login
        session.logged_in = True
        self.logins += 1
        await session.send(
            [
                ("Response", "Success"),
                ("ActionID", action_id),
                ("Message", "Authentication accepted"),
            ]
        )
        await session.send(
            self._stamped(
                [("Event", "FullyBooted"), ("Privilege", "system,all"), ("Status", "Fully Booted")]
            )
        )
        self._watch.notify()
        return True


class Recorder:
    """An on_event / on_connect pair that records what it is given and lets a test wait."""

    def __init__(self) -> None:
        self.events: list[Message] = []
        self.connects = 0
        self._watch = _Watch()

    async def on_event(self, message: Message) -> None:
        self.events.append(message)
        self._watch.notify()

    async def on_connect(self) -> None:
        self.connects += 1
        self._watch.notify()

    def names(self, *, skip: tuple[str, ...] = ("FullyBooted",)) -> list[str]:
        return [m.event or "" for m in self.events if m.event not in skip]

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        await self._watch.wait_until(predicate, timeout)
