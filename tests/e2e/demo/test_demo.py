"""`make demo` and `ivr demo --campaign` as a newcomer runs them: the whole command, its own
Asterisk, engine, phones and calls, on an instance and ports of its own."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ivr.harness.stack import Stack, stack_settings

ROOT = Path(__file__).resolve().parents[3]
pytestmark = [pytest.mark.e2e]


async def run_demo(tmp_path: Path, *args: str) -> str:
    settings = stack_settings(tmp_path, ROOT / "routing_rules")
    stack = Stack(settings, tmp_path)
    env = {**stack.engine_env(), "PYTHONPATH": str(ROOT), "TZ": "UTC"}
    await stack.db.dispose()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr", "demo", *args, env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 300)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-4000:]
    return text


async def test_make_demo_answers_one_call_takes_one_message_and_opens_the_area(
    tmp_path: Path,
) -> None:
    shown = await run_demo(tmp_path)

    table = shown.split("linkedid", 1)[1]
    assert re.search(r"\banswered\b", table) and re.search(r"\bmessage", table)
    # Times in the client's zone (the demo's clients are in Rome), whatever the machine's.
    assert re.search(r"\d\d:\d\d:\d\d CES?T ", table), table
    assert "/area/" in shown and "FAILED" not in shown
    # One call taken with a client's script: its answers, and the area's page of it.
    scripted = shown.split("Taking a call with the client's script", 1)[1]
    assert "the message is kept" in scripted, scripted[:2000]
    assert re.search(r"/area/calls/\S+", scripted), scripted[-2000:]


async def test_the_campaign_demo_works_debtors_between_inbound_calls(tmp_path: Path) -> None:
    shown = await run_demo(tmp_path, "--campaign")

    assert shown.count(" promise\n") >= 2
    inbound = re.findall(r"inbound call \S+ -> Rossi Idraulica, answered by op\d", shown)
    assert len(inbound) == 1, shown[-2000:]


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
