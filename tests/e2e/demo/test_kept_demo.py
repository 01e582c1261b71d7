"""`ivr demo --keep` as a newcomer runs it: a demo left running, on the real time."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from demo_runs import ROOT

from ivr.harness.stack import Stack, stack_settings

pytestmark = [pytest.mark.e2e]


async def test_a_kept_demo_runs_on_the_real_time(tmp_path: Path) -> None:
    """`ivr demo --keep`: one clock for the engine, the records, the console and the sessions:
    the real one. Its calls are placed when the clients are open now; when not, it says so."""
    settings = stack_settings(tmp_path, ROOT / "routing_rules")
    stack = Stack(settings, tmp_path)
    env = {**stack.engine_env(), "PYTHONPATH": str(ROOT), "TZ": "UTC"}
    await stack.db.dispose()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr", "demo", "--keep", env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    shown = ""
    try:
        while "The demo keeps running" not in shown:
            line = await asyncio.wait_for(proc.stdout.readline(), 300)
            assert line, shown[-4000:]
            shown += line.decode(errors="replace")
        status = await asyncio.to_thread(stack.status)
        assert status is not None
        assert abs(datetime.fromisoformat(status["clock"]) - datetime.now(UTC)) < timedelta(
            minutes=1
        )
        proc.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(proc.communicate(), 120)
        shown += rest.decode(errors="replace")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, shown[-4000:]
    placed = "Placing calls (the real time" in shown
    assert placed or "The kept demo runs on the real time, and no two clients" in shown, shown
    assert "FAILED" not in shown
