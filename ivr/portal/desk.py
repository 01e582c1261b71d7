"""The desk's state: what each operator is doing (the board, fed by the engine's AMI events and
by the other nodes of a cluster), their pauses in the queues and the wrap-up after a call.
It lives as long as the engine; the console's pages (ivr/portal/app.py) read and drive it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ivr.ami.client import AmiError
from ivr.ami.message import Message
from ivr.portal import store
from ivr.portal.board import Board, Change, Live
from ivr.portal.relay import ConsoleRelay
from ivr.records.facts import Row
from ivr.variables import phones

if TYPE_CHECKING:
    from ivr.routing.model import Rules
    from ivr.services import Services

log = logging.getLogger(__name__)


class Desk:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.board = Board(self._operator_of_endpoint, services.clock)
        # What other engines' nodes say of the operators (a cluster), and pauses everywhere.
        self.relay = ConsoleRelay(
            getattr(services, "wake", None), self.board, self._changed, self._pause_here
        )
        self._wrapups: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Who else hears of the desk (the supervisor's live figures): each queue event's row,
        # and every change on the board.
        self.queue_row_heard: list[Callable[[dict[str, Any]], None]] = []
        self.board_moved: list[Callable[[], None]] = []

    async def end_wrapup(self, operator: str, linkedid: str) -> None:
        """The outcome of `linkedid` is written down: the wrap-up rules of an inbound call."""
        live = self.board.live(operator)
        if live.wrap_up and live.on_call != linkedid:
            await self._end_wrapup(operator)
        elif live.wrap_up:
            live.wrap_up = False  # still talking: when the call ends, no wrap-up is due
            if live.wants_available:
                await self.pause(operator, False, "")

    @property
    def rules(self) -> Rules:
        return self.services.rules.current

    def _operator_of_endpoint(self, endpoint: str) -> str | None:
        for op in self.rules.operators.values():
            if op.endpoint == endpoint:
                return op.id
        return None

    # -- AMI events ------------------------------------------------------------------------

    async def on_event(self, event: Message) -> None:
        """Called by the engine for every AMI event, after the call records."""
        try:
            await self._on_event(event)
        except Exception:  # the console is not worth losing the engine's other handlers
            log.exception("console: %s event failed", event.event)

    async def _on_event(self, event: Message) -> None:
        data = event  # a Mapping: looked up by name, no copy per event
        row = store.queue_event_row(data, self.services.clock)
        if row is not None:
            for hear in self.queue_row_heard:
                hear(row)
        if row is not None and self.services.records is not None:
            self.services.record(Row("queue_events", row))  # batched, off the event path
        elif row is not None:
            await store.add_queue_event(self.services.sessions, row)
        change = self.board.apply(data)
        if change is not None:
            for moved in self.board_moved:
                moved()
            self.relay.event(data)
            await self._changed(change)

    async def on_ami_connected(self) -> None:
        await self.sync_devices()

    async def sync_devices(self) -> None:
        """Ask Asterisk the state of every phone: registered or not, in use, on hold."""
        ami = self.services.ami
        if ami is None:
            return
        try:
            states = await ami.send_action_list([("Action", "DeviceStateList")])
        except (AmiError, TimeoutError) as exc:
            log.warning("DeviceStateList failed: %s", exc)
            return
        for state in states:
            self.board.apply(state)

    async def _changed(self, change: Change) -> None:
        live = self.board.live(change.operator)
        if change.kind == "connected" and live.sessions > 0 and change.linkedid:
            # Paused from the moment the call connects: when it ends the queue cannot offer
            # a new call before the outcome is written down. Set before the outcome is read,
            # so that an outcome saved while it is read (the events can lag the console)
            # ends it, and is not followed by a pause nobody would lift.
            live.wrap_up = True
            saved = await store.get_outcome(self.services.sessions, change.linkedid)
            if saved is not None:
                live.wrap_up = False
            elif live.wrap_up:
                await self.pause(change.operator, True, "wrap-up")
        elif change.kind == "ended" and live.wrap_up:
            self._start_wrapup_clock(change.operator)
        self.board.tell(change.operator, self._news(live, change.kind))

    def _news(self, live: Live, kind: str) -> dict[str, Any]:
        return {"kind": kind, **live.view()}

    def _start_wrapup_clock(self, operator: str) -> None:
        self._cancel_wrapup_clock(operator)
        loop = asyncio.get_running_loop()
        self._wrapups[operator] = loop.call_later(
            self.services.settings.wrapup_seconds, self.spawn, self._end_wrapup, operator
        )

    def _cancel_wrapup_clock(self, operator: str) -> None:
        handle = self._wrapups.pop(operator, None)
        if handle is not None:
            handle.cancel()

    def spawn(self, work: Callable[[str], Awaitable[None]], operator: str) -> None:
        async def run() -> None:
            await work(operator)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _end_wrapup(self, operator: str) -> None:
        self._cancel_wrapup_clock(operator)
        live = self.board.live(operator)
        if not live.wrap_up:
            return
        live.wrap_up = False
        if live.wants_available:
            await self.pause(operator, False, "")
        self.board.tell(operator, self._news(live, "wrapped-up"))

    async def pause(self, operator: str, paused: bool, reason: str) -> str | None:
        """Pause or unpause the operator in every queue of every node; an error message (of
        this engine's node), or None."""
        error = await self._pause_here(operator, paused, reason)
        self.relay.pause(operator, paused, reason)
        return error

    async def _pause_here(self, operator: str, paused: bool, reason: str) -> str | None:
        """Pause or unpause the operator in every queue of this engine's node."""
        op = self.rules.operators.get(operator)
        ami = self.services.ami
        if op is None or ami is None:
            return "no such operator, or no AMI connection"
        for phone in phones(op.endpoint):  # desk and browser: two members of one name
            fields = [
                ("Action", "QueuePause"),
                ("Interface", f"PJSIP/{phone}"),
                ("Paused", "true" if paused else "false"),
            ]
            if reason:
                fields.append(("Reason", reason))
            try:
                await ami.send_action(fields)
            except (AmiError, TimeoutError) as exc:
                log.warning("QueuePause %s paused=%s failed: %s", operator, paused, exc)
                return str(exc)
        return None

    async def sync_pauses(self) -> None:
        """Ask Asterisk who is paused: the board starts empty when the engine (re)starts."""
        ami = self.services.ami
        if ami is None:
            return
        try:
            members = await ami.send_action_list([("Action", "QueueStatus")])
        except (AmiError, TimeoutError) as exc:
            log.warning("QueueStatus failed: %s", exc)
            return
        paused: dict[str, bool] = {}
        for member in members:
            if member.event != "QueueMember":
                continue
            name = member.get("Name") or member.get("MemberName") or ""
            if name in self.rules.operators:
                paused[name] = paused.get(name, False) or member.get("Paused") == "1"
        for operator, is_paused in paused.items():
            self.board.live(operator).paused = is_paused

    async def start(self) -> None:
        self.relay.start()

    async def close(self) -> None:
        await self.relay.close()
        for operator in list(self._wrapups):
            self._cancel_wrapup_clock(operator)
        self.board.close_listeners()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
