"""`ivr demo --campaign` as a newcomer runs it: debtors called between inbound calls."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from demo_runs import run_demo

pytestmark = [pytest.mark.e2e]


async def test_the_campaign_demo_works_debtors_between_inbound_calls(tmp_path: Path) -> None:
    shown = await run_demo(tmp_path, "--campaign")

    assert shown.count(" promise\n") >= 2
    inbound = re.findall(r"inbound call \S+ -> Rossi Idraulica, answered by op\d", shown)
    assert len(inbound) == 1, shown[-2000:]
