"""Runs `ivr demo` as a newcomer does: the whole command, its own Asterisk, engine, phones and
calls, on an instance and ports of its own. Each demo's test is a file of its own
(test_*demo.py), so that pytest-xdist's workers run them side by side."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from ivr.harness.stack import Stack, stack_settings

ROOT = Path(__file__).resolve().parents[3]


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
