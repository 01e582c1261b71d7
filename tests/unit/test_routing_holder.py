"""RulesHolder swaps rules only when the new ones are valid; calls keep what they started with."""

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ivr.routing import RulesHolder

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates

RULES = Path(__file__).resolve().parents[2] / "routing_rules"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_reload_swaps_valid_rules_and_keeps_running_ones_on_error(tmp_path):
    rules_dir = tmp_path / "rules"
    shutil.copytree(RULES, rules_dir)
    clock = Clock()
    holder = RulesHolder(rules_dir, clock=clock)
    first = holder.current  # a call in progress holds this
    assert holder.last_error is None and holder.loaded_at == clock.now

    client = rules_dir / "clients" / "rossi-idraulica.yaml"
    client.write_text(client.read_text().replace("0611111112", "0611111119"))
    clock.now = datetime(2025, 3, 3, 9, 5, tzinfo=UTC)
    ok, note = holder.reload()
    assert ok and note.startswith("reloaded: 3 clients")
    assert "0611111119" in holder.current.number_index
    assert "0611111112" in first.number_index  # the older object is untouched
    assert holder.loaded_at == clock.now
    second = holder.current

    client.write_text(client.read_text().replace("timezone:", "timezon:"))
    clock.now = datetime(2025, 3, 3, 9, 10, tzinfo=UTC)
    ok, note = holder.reload()
    assert not ok and note == "rejected (1 problem): kept the running rules"
    assert holder.current is second
    assert holder.loaded_at == datetime(2025, 3, 3, 9, 5, tzinfo=UTC)
    assert holder.last_error == (f"{client}:6:1: unknown key 'timezon' (did you mean 'timezone'?)")
    assert holder.digest == second.source_digest
    again = holder.reload()  # the broken file comes from the parse cache now: still refused
    assert again == (False, "rejected (1 problem): kept the running rules")
    assert holder.last_error.startswith(f"{client}:6:1: unknown key 'timezon'")

    client.write_text(client.read_text().replace("timezon:", "timezone:"))
    ok, note = holder.reload()
    assert ok and holder.last_error is None
    assert holder.current.source_digest == second.source_digest
    assert note == "unchanged"
