"""`make demo` as a newcomer runs it: one call answered, one message taken, the area opened."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from demo_runs import run_demo

pytestmark = [pytest.mark.e2e]


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
