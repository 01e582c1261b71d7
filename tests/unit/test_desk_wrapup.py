"""The wrap-up pause of an answered call, against an outcome saved while the desk is still
reading whether one exists (the AMI events can lag the console under load): the outcome
wins, and no pause is left that nobody would lift."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from ivr.clock import utcnow
from ivr.portal import desk as desk_module
from ivr.portal.board import Change
from ivr.portal.desk import Desk

Rig = tuple[Desk, list[Any], asyncio.Event, asyncio.Event]


def a_desk(monkeypatch: pytest.MonkeyPatch, saved: dict[str, Any]) -> Rig:
    """A desk whose outcome read stops once it has read (`read`) until the test says `go`."""
    services = SimpleNamespace(
        clock=utcnow, sessions=None, settings=SimpleNamespace(wrapup_seconds=60)
    )
    desk = Desk(services)  # type: ignore[arg-type]
    pauses: list[Any] = []

    async def pause(operator: str, paused: bool, reason: str) -> str | None:
        pauses.append((operator, paused, reason))
        await asyncio.sleep(0)  # an AMI round trip: other work runs meanwhile
        return None

    read = asyncio.Event()
    go = asyncio.Event()

    async def get_outcome(_sessions: Any, linkedid: str) -> Any:
        found = saved.get(linkedid)  # read before the operator's save lands
        read.set()
        await go.wait()
        return found

    monkeypatch.setattr(desk, "pause", pause)
    monkeypatch.setattr(desk_module.store, "get_outcome", get_outcome)
    return desk, pauses, read, go


async def test_an_outcome_saved_while_the_answer_is_handled_leaves_no_wrap_up_pause(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desk, pauses, read, go = a_desk(monkeypatch, saved={})
    live = desk.board.live("op1")
    live.sessions, live.on_call = 1, "call-1"
    answered = asyncio.create_task(desk._changed(Change("op1", "connected", "call-1")))
    await asyncio.wait_for(read.wait(), 5)  # the desk has read "no outcome yet"...
    await desk.end_wrapup("op1", "call-1")  # ...and the operator saves one now
    go.set()
    await asyncio.wait_for(answered, 5)
    assert not live.wrap_up
    assert ("op1", True, "wrap-up") not in pauses


async def test_an_answer_with_no_outcome_yet_is_paused_for_the_wrap_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desk, pauses, _, go = a_desk(monkeypatch, saved={})
    live = desk.board.live("op1")
    live.sessions, live.on_call = 1, "call-1"
    go.set()
    await asyncio.wait_for(desk._changed(Change("op1", "connected", "call-1")), 5)
    assert live.wrap_up
    assert pauses == [("op1", True, "wrap-up")]
