"""`make soak` in small: 60 calls through the real Asterisk while the engine is SIGKILLed at a
third, started again at half, and its AMI link cut once. Every call placed has its record,
none is left in progress."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak import soak

pytestmark = pytest.mark.e2e
CALLS = 60


async def test_every_call_is_on_record_through_a_kill_and_a_cut_link(tmp_path: Path) -> None:
    result = await soak(CALLS, 20.0, 3000, tmp_path, log=False)

    assert (result.placed, result.answered) == (CALLS, CALLS), result
    assert result.records == CALLS, result
    assert result.in_progress == 0, result
    assert result.rebuilt > 0, result  # the calls the engine was down for came from Asterisk
