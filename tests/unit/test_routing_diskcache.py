"""DiskParseCache: a second process starts from the parses the first one wrote."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ivr.routing import RulesError, load_rules
from ivr.routing.diskcache import DiskParseCache

RULES = Path(__file__).resolve().parents[2] / "routing_rules"


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    shutil.copytree(RULES, tmp_path / "rules")
    return tmp_path / "rules"


def test_a_new_cache_on_the_same_folder_parses_nothing_again(rules, tmp_path):
    files = len(list(rules.rglob("*.yaml")))
    first = DiskParseCache(tmp_path / "cache")
    plain = load_rules(rules, first)
    assert (first.writes, first.hits) == (files, 0)

    second = DiskParseCache(tmp_path / "cache")  # as a restarted engine would
    again = load_rules(rules, second)
    assert (second.writes, second.hits) == (0, files)
    assert again.source_digest == plain.source_digest
    assert again.summary() == plain.summary()
    assert again.number_index == plain.number_index

    client = rules / "clients" / "rossi-idraulica.yaml"
    client.write_text(client.read_text().replace("0611111112", "0611111119"))
    third = DiskParseCache(tmp_path / "cache")
    changed = load_rules(rules, third)
    assert (third.writes, third.hits) == (1, files - 1)
    assert "0611111119" in changed.number_index


def test_problems_come_back_from_the_cache_word_for_word(rules, tmp_path):
    client = rules / "clients" / "rossi-idraulica.yaml"
    client.write_text(client.read_text().replace("timezone:", "timezon:"))
    with pytest.raises(RulesError) as fresh:
        load_rules(rules, DiskParseCache(tmp_path / "cache"))
    cached = DiskParseCache(tmp_path / "cache")
    with pytest.raises(RulesError) as again:
        load_rules(rules, cached)
    assert cached.hits > 0
    assert str(again.value) == str(fresh.value)


def test_a_broken_entry_is_parsed_again_and_replaced(rules, tmp_path):
    load_rules(rules, DiskParseCache(tmp_path / "cache"))
    entries = sorted((tmp_path / "cache").rglob("*.pickle"))
    entries[0].write_bytes(b"not a pickle")
    cache = DiskParseCache(tmp_path / "cache")
    load_rules(rules, cache)
    assert cache.writes == 1 and cache.hits == len(entries) - 1


def test_an_unwritable_cache_folder_does_not_stop_a_load(rules, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    cache = DiskParseCache(blocker)
    assert load_rules(rules, cache).summary() == load_rules(rules).summary()
    assert cache.writes == 0


def test_entries_the_rules_no_longer_use_are_removed(rules, tmp_path):
    files = len(list(rules.rglob("*.yaml")))
    cache = DiskParseCache(tmp_path / "cache")
    old_version = tmp_path / "cache" / "0123456789abcdef"
    old_version.mkdir(parents=True)
    load_rules(rules, cache)
    assert len(list(cache.folder.glob("*.pickle"))) == files
    assert not old_version.exists()  # written by older code: never read again

    client = rules / "clients" / "rossi-idraulica.yaml"
    for old, new in (("0611111112", "0611111119"), ("0611111119", "0611111118")):
        client.write_text(client.read_text().replace(old, new))
        assert new in load_rules(rules, cache).number_index
        assert new in load_rules(rules, DiskParseCache(tmp_path / "cache")).number_index
    assert len(list(cache.folder.glob("*.pickle"))) == files
