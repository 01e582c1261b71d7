"""The console across engines. In a cluster each Asterisk node has its own engine, and an
operator's phone is reached from every node, but the operator's console page is served by
one engine, which hears only its own node's AMI events. So each engine passes on to the
others (PostgreSQL NOTIFY, through ivr.wake) what its node says of an operator's calls
(DialBegin, DialEnd, Hangup) and of their pauses (QueueMemberPause), and every pause or
unpause the console makes: the other engines apply the events to their boards as if their
own node had sent them, and pause the operator in their own node's queues too. So the card
pops up and the wrap-up pause holds whichever node the call came through, and an operator
on a break is offered no call by any node.

A phone's device state is not passed on: each node has its own view of the same phone (its
own channels), and the console's engine asks its own node. With one engine (SQLite, or no
relay) nothing is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ivr.portal.board import Board, Change
    from ivr.wake import Wakeups

log = logging.getLogger(__name__)

TOPIC = "console"
PASSED_ON = frozenset({"DialBegin", "DialEnd", "Hangup", "QueueMemberPause"})
MOST = 7000  # bytes: a NOTIFY payload is at most 8000
BACKLOG = 10_000  # messages waiting either way; past it they are dropped (and logged)


class ConsoleRelay:
    def __init__(
        self,
        wake: Wakeups | None,
        board: Board,
        changed: Callable[[Change], Awaitable[None]],
        pause_here: Callable[[str, bool, str], Awaitable[str | None]],
    ) -> None:
        self.wake = wake
        self.board = board
        self.changed = changed  # what the console does when its board changes
        self.pause_here = pause_here  # a pause in this engine's node's queues only
        self.origin = secrets.token_hex(8)  # this engine: its own messages come back to it
        self._out: asyncio.Queue[str] = asyncio.Queue(BACKLOG)
        self._in: asyncio.Queue[dict[str, Any]] = asyncio.Queue(BACKLOG)
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def active(self) -> bool:
        """Several engines share the database (a relay carries wake-ups between them)."""
        return self.wake is not None and self.wake.relay is not None

    def start(self) -> None:
        if self.wake is None:
            return
        self.wake.on(TOPIC, self._heard)
        self._tasks = [
            asyncio.create_task(self._send(), name="console-relay-out"),
            asyncio.create_task(self._apply(), name="console-relay-in"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- this engine's node, to the others --------------------------------------------------

    def event(self, event: Mapping[str, str]) -> None:
        """An AMI event of this node that changed an operator on the board."""
        if self.active and event.get("Event") in PASSED_ON:
            self._queue({"o": self.origin, "e": dict(event)})

    def pause(self, operator: str, paused: bool, reason: str) -> None:
        """A pause or unpause this engine made in its own node's queues."""
        if self.active:
            self._queue({"o": self.origin, "p": [operator, paused, reason]})

    def _queue(self, message: dict[str, Any]) -> None:
        text = json.dumps(message, separators=(",", ":"))
        if len(text.encode()) > MOST:
            log.warning("console relay: a %d-byte message is too long to pass on", len(text))
            return
        try:
            self._out.put_nowait(text)
        except asyncio.QueueFull:
            log.warning("console relay: %d messages waiting, one dropped", BACKLOG)

    async def _send(self) -> None:
        while True:
            text = await self._out.get()
            try:
                assert self.wake is not None  # nothing is queued without it
                await self.wake.send(TOPIC, text)
            except Exception as exc:  # the database is away: the boards catch up on events
                log.warning("console relay: not passed on: %r", exc)
            finally:
                self._out.task_done()

    # -- the other engines' nodes, to this one ------------------------------------------------

    def _heard(self, payload: str) -> None:
        if not payload:  # "look again" after a reconnection: nothing to apply
            return
        try:
            message = json.loads(payload)
        except ValueError:
            log.warning("console relay: unreadable message ignored")
            return
        if not isinstance(message, dict) or message.get("o") == self.origin:
            return
        try:
            self._in.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("console relay: %d messages waiting, one dropped", BACKLOG)

    async def _apply(self) -> None:
        """One at a time, in the order sent: a call's Hangup after its DialBegin."""
        while True:
            message = await self._in.get()
            try:
                await self._one(message)
            except Exception:
                log.exception("console relay: a message from another engine failed")
            finally:
                self._in.task_done()

    async def drained(self) -> None:
        """Everything queued either way has been sent or applied."""
        await self._out.join()
        await self._in.join()

    async def _one(self, message: dict[str, Any]) -> None:
        event = message.get("e")
        if isinstance(event, dict):
            values = {str(k): str(v) for k, v in event.items()}
            change = self.board.apply(values)
            if change is not None:
                await self.changed(change)
            return
        pause = message.get("p")
        if isinstance(pause, list) and len(pause) == 3:
            operator, paused, reason = pause
            await self.pause_here(str(operator), bool(paused), str(reason))
