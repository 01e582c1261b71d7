"""DiskRulesCache: a restart on unchanged rules gets the compiled rules back from disk."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ivr.routing import CallInfo, RulesError, load_rules
from ivr.routing.diskcache import DiskRulesCache
from ivr.routing.evaluate import evaluate

RULES = Path(__file__).resolve().parents[2] / "routing_rules"
INSTANTS = [datetime(2025, 4, 21, 10, tzinfo=UTC), datetime(2025, 3, 3, 8, 30, tzinfo=UTC)]
INSTANTS += [datetime(2025, 12, 24, h, tzinfo=UTC) for h in (3, 11, 13, 22)]


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    shutil.copytree(RULES, tmp_path / "rules")
    return tmp_path / "rules"


def restart(tmp_path: Path) -> DiskRulesCache:
    """A new cache on the same folder, as a restarted engine makes."""
    return DiskRulesCache(tmp_path / "cache")


def test_a_restart_on_unchanged_rules_compiles_nothing(rules, tmp_path):
    first = restart(tmp_path)
    plain = load_rules(rules, first)
    first.wait()  # written in the background
    assert (first.hits, first.writes) == (0, 1)

    second = restart(tmp_path)
    again = load_rules(rules, second)
    assert (second.hits, second.writes) == (1, 0)
    assert again is not plain
    assert again.source_digest == plain.source_digest
    assert again.summary() == plain.summary()
    assert again.number_index == plain.number_index
    for number in plain.number_index:  # the same answers, holidays and night shifts included
        for at in INSTANTS:
            call = CallInfo(called=number, caller="0612345678")
            assert evaluate(again, call, at) == evaluate(plain, call, at)


def test_an_edited_file_is_loaded_and_replaces_the_entry(rules, tmp_path):
    load_rules(rules, first := restart(tmp_path))
    first.wait()
    client = rules / "clients" / "rossi-idraulica.yaml"
    client.write_text(client.read_text().replace("0611111112", "0611111119"))

    second = restart(tmp_path)
    changed = load_rules(rules, second)
    second.wait()
    assert (second.hits, second.writes) == (0, 1)
    assert "0611111119" in changed.number_index
    assert len(list(second.folder.glob("rules-*.pickle"))) == 1  # only the newest is kept
    third = restart(tmp_path)
    assert "0611111119" in load_rules(rules, third).number_index and third.hits == 1


def test_invalid_rules_are_never_cached(rules, tmp_path):
    client = rules / "clients" / "rossi-idraulica.yaml"
    client.write_text(client.read_text().replace("timezone:", "timezon:"))
    cache = restart(tmp_path)
    with pytest.raises(RulesError):
        load_rules(rules, cache)
    cache.wait()
    assert cache.writes == 0


def test_a_broken_entry_or_older_code_is_ignored(rules, tmp_path):
    first = restart(tmp_path)
    plain = load_rules(rules, first)
    first.wait()
    for entry in first.folder.glob("rules-*.pickle"):
        entry.write_bytes(b"not a pickle")
    second = restart(tmp_path)
    assert load_rules(rules, second).summary() == plain.summary()
    second.wait()
    assert (second.hits, second.writes) == (0, 1)

    older = tmp_path / "cache" / "0123456789abcdef"  # a version written by other code
    older.mkdir()
    stopped = second.folder / ".rules-left-by-a-crash"
    stopped.write_bytes(b"half a pickle")
    client = rules / "clients" / "rossi-idraulica.yaml"
    client.write_text(client.read_text() + "\n")
    load_rules(rules, third := restart(tmp_path))
    third.wait()
    assert not older.exists() and not stopped.exists()


def test_an_unwritable_cache_folder_does_not_stop_a_load(rules, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    cache = DiskRulesCache(blocker)
    assert load_rules(rules, cache).summary() == load_rules(rules).summary()
    cache.wait()
    assert cache.writes == 0
