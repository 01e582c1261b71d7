"""The fault suite: each case through the real Asterisk where it involves it, asserting what
the caller experienced and what was stored. One stack per module; nothing here skips."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ivr.harness.ports import free_media_port, free_udp_port
from ivr.harness.sipp import SippResult, run_scenario, sipp_binary
from ivr.harness.stack import Stack, stack_settings

HERE = Path(__file__).resolve().parent
RULES = HERE / "rules"


@pytest.fixture(autouse=True)
def _asterisk(asterisk_available: None) -> None:
    """Provisioned first, for the module-scoped stacks too."""


@contextlib.asynccontextmanager
async def running_stack(folder: Path, rules: Path = RULES, **extra: Any) -> AsyncIterator[Stack]:
    stack = Stack(stack_settings(folder, rules, **extra), folder / "work")
    try:
        await stack.start()
        yield stack
    finally:
        await stack.close()


async def refused_call(
    stack: Stack, *, bind: str, user: str, code: int, number: str = "0611000001"
) -> SippResult:
    """An INVITE from `bind` with From user `user`; ok only if answered with exactly `code`."""
    sipp_binary()
    with tempfile.TemporaryDirectory(prefix="ivr-refused-") as folder:
        scenario = Path(folder) / "refused.xml"
        scenario.write_text((HERE / "refused.xml").read_text().replace("EXPECTED_CODE", str(code)))
        args = [
            "-sf", str(scenario), "-i", bind, "-p", str(free_udp_port(bind)),
            "-mp", str(free_media_port(bind)), "-s", number,
            "-key", "caller_num", user, "-key", "caller_name", "Spoofer",
            "-m", "1", "-recv_timeout", "10000", f"{stack.sip[0]}:{stack.sip[1]}",
        ]  # fmt: skip
        return await run_scenario(args, 30)
