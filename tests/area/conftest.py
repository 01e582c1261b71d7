"""Fixtures of the client area's tests (the world itself is in area_world.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from area_world import Mailbox, World, close_world, make_world

from ivr.harness.ports import free_tcp_port


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_tcp_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    yield_world, engine = await make_world(tmp_path)
    try:
        yield yield_world
    finally:
        await close_world(yield_world, engine)
