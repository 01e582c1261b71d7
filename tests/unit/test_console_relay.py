"""The console across engines (ivr/portal/relay.py): what one engine's node says of an
operator reaches the other engines' boards, and a pause reaches every node; with a relay
that delivers to every engine, the sender included, as PostgreSQL's NOTIFY does."""

from __future__ import annotations

import asyncio
from typing import Any

from ivr.portal.board import Board, Change
from ivr.portal.relay import ConsoleRelay
from ivr.wake import Wakeups


class Notify:
    """Every engine LISTENs: a NOTIFY reaches them all, the sender too."""

    def __init__(self) -> None:
        self.engines: list[Wakeups] = []

    async def send(self, topic: str, payload: str) -> None:
        for wake in self.engines:
            wake.deliver(topic, payload)


class Engine:
    def __init__(self, notify: Notify | None) -> None:
        self.wake = Wakeups()
        if notify is not None:
            self.wake.relay = notify
            notify.engines.append(self.wake)
        self.board = Board(lambda endpoint: endpoint if endpoint.startswith("op") else None)
        self.changes: list[Change] = []
        self.paused: list[tuple[str, bool, str]] = []
        self.relay = ConsoleRelay(self.wake, self.board, self._changed, self._pause_here)

    async def _changed(self, change: Change) -> None:
        self.changes.append(change)

    async def _pause_here(self, operator: str, paused: bool, reason: str) -> str | None:
        self.paused.append((operator, paused, reason))
        return None

    def hears(self, event: dict[str, str]) -> None:
        """Its own node's AMI event, as Portal._on_event handles it."""
        if self.board.apply(event) is not None:
            self.relay.event(event)


async def settle(*engines: Engine) -> None:
    """Every message sent, delivered and applied: each engine's out, then everyone's in."""
    for engine in engines:
        await asyncio.wait_for(engine.relay._out.join(), 5)
    for engine in engines:
        await asyncio.wait_for(engine.relay.drained(), 5)


async def two() -> tuple[Engine, Engine]:
    notify = Notify()
    a, b = Engine(notify), Engine(notify)
    a.relay.start()
    b.relay.start()
    return a, b


async def close(*engines: Engine) -> None:
    for engine in engines:
        await engine.relay.close()


DIAL = {"Event": "DialBegin", "DestChannel": "PJSIP/op1-0000002a", "Linkedid": "c-node2-1.5"}
ANSWER = {**DIAL, "Event": "DialEnd", "DialStatus": "ANSWER"}
HANGUP = {"Event": "Hangup", "Channel": "PJSIP/op1-0000002a", "Linkedid": "c-node2-1.5"}


async def test_another_nodes_call_rings_connects_and_ends_on_this_engines_board() -> None:
    node1, node2 = await two()
    try:
        node2.hears(DIAL)
        await settle(node1, node2)
        assert node1.board.live("op1").ringing == "c-node2-1.5"
        node2.hears(ANSWER)
        await settle(node1, node2)
        assert node1.board.live("op1").on_call == "c-node2-1.5"
        node2.hears(HANGUP)
        await settle(node1, node2)
        assert node1.board.live("op1").on_call is None
        assert [c.kind for c in node1.changes] == ["ringing", "connected", "ended"]
        assert node2.changes == []  # its own messages come back to it and are left alone
    finally:
        await close(node1, node2)


async def test_a_pause_reaches_every_other_node_once() -> None:
    node1, node2 = await two()
    try:
        node1.relay.pause("op2", True, "break")
        await settle(node1, node2)
        assert node2.paused == [("op2", True, "break")] and node1.paused == []
    finally:
        await close(node1, node2)


async def test_a_phones_device_state_stays_with_its_node() -> None:
    node1, node2 = await two()
    try:
        node2.hears({"Event": "DeviceStateChange", "Device": "PJSIP/op1", "State": "UNAVAILABLE"})
        await settle(node1, node2)
        assert node2.board.live("op1").phone == "offline"
        assert node1.board.live("op1").phone == "" and node1.changes == []
    finally:
        await close(node1, node2)


async def test_one_engine_alone_sends_nothing() -> None:
    alone = Engine(None)
    alone.relay.start()
    sent: list[Any] = []
    alone.wake.on("console", sent.append)
    try:
        alone.hears(DIAL)
        alone.relay.pause("op1", True, "")
        await settle(alone)
        assert sent == [] and alone.relay._out.empty()
    finally:
        await close(alone)


async def test_garbage_on_the_channel_is_ignored() -> None:
    node1, node2 = await two()
    try:
        node1.wake.deliver("console", "not json")
        node1.wake.deliver("console", "")  # "look again" after the relay reconnected
        node1.wake.deliver("console", '{"o": "x", "e": {"Event": "DialBegin"}}')
        await settle(node1, node2)
        node2.hears(DIAL)
        await settle(node1, node2)
        assert [c.kind for c in node1.changes] == ["ringing"]
    finally:
        await close(node1, node2)
