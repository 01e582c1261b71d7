"""OverridesFile: what the call path reads per call; the file is parsed again only on a change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ivr.routing import Override, Overrides, OverridesFile, OverrideStore

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def test_reads_once_then_again_only_when_the_file_changes(tmp_path, monkeypatch):
    path = tmp_path / "overrides.json"
    cached = OverridesFile(path)
    assert cached.current().items == ()  # no file: no overrides

    store = OverrideStore(path)
    store.set(Override("acme", "closed", reason="flood"), NOW)
    assert cached.current().for_client("acme", NOW).mode == "closed"

    loads = []
    real_load = OverrideStore.load
    monkeypatch.setattr(OverrideStore, "load", lambda self: loads.append(1) or real_load(self))
    first = cached.current()
    assert cached.current() is first and loads == []  # unchanged file: not read again

    store.set(Override("acme", "message", reason="holiday week"), NOW)
    assert cached.current().for_client("acme", NOW).mode == "message"
    assert len(loads) == 2  # the store's own read-modify-write, then the cache's one read

    path.unlink()
    assert cached.current().items == ()


def test_a_broken_file_keeps_the_last_good_overrides(tmp_path):
    path = tmp_path / "overrides.json"
    OverrideStore(path).set(Override("*", "open"), NOW)
    cached = OverridesFile(path)
    assert cached.current().for_client("anyone", NOW) is not None

    path.write_text("{not json")
    assert cached.current().for_client("anyone", NOW) is not None
    assert cached.last_error is not None and "not JSON" in cached.last_error

    OverrideStore(path).save(Overrides((Override("*", "closed"),)))
    assert cached.current().for_client("anyone", NOW).mode == "closed"
    assert cached.last_error is None


def test_status_lists_what_is_in_force_and_why_a_file_was_refused(tmp_path):
    path = tmp_path / "overrides.json"
    store = OverrideStore(path)
    store.set(Override("acme", "message", until=NOW + timedelta(hours=1)), NOW)
    store.set(Override("rossi", "closed", until=NOW - timedelta(hours=1)), NOW - timedelta(hours=2))
    cached = OverridesFile(path)
    assert cached.status(NOW) == {
        "path": str(path),
        "in_force": {"acme": "message"},
        "last_error": None,
    }
    path.write_text("[]")
    status = cached.status(NOW)
    assert status["in_force"] == {"acme": "message"}  # the last good ones still apply
    assert "expected {'overrides': [...]}" in status["last_error"]
