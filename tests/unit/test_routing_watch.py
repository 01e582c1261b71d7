"""The rules watcher reloads on a change of any *.yaml under the folder, told by the kernel,
and on nothing else; idle, it never wakes up."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from ivr.routing import RulesHolder
from ivr.routing.watch import RulesWatcher

RULES = Path(__file__).resolve().parents[2] / "routing_rules"
GUARD = 10.0  # a hung test fails; each wait returns as soon as the watcher has moved


class Reloads:
    def __init__(self) -> None:
        self.changed: list[frozenset[Path]] = []

    def __call__(self, changed: frozenset[Path]) -> None:
        self.changed.append(changed)

    @property
    def count(self) -> int:
        return len(self.changed)


def bump(path: Path) -> None:
    path.write_text(path.read_text() + "\n# edited\n")


async def until(watcher: RulesWatcher, condition) -> None:  # type: ignore[no-untyped-def]
    await asyncio.wait_for(watcher.wait(condition), GUARD)


async def test_a_changed_added_or_removed_rules_file_reloads_with_what_changed(tmp_path):
    folder = tmp_path / "rules"
    shutil.copytree(RULES, folder)
    reloads = Reloads()
    watcher = RulesWatcher(folder, reloads, settle=0.05)
    await watcher.start()
    client = folder / "clients" / "rossi-idraulica.yaml"
    try:
        bump(client)
        await until(watcher, lambda: watcher.reloads == 1)
        assert reloads.changed == [frozenset({client})]

        events = watcher.events
        (folder / "clients" / "README.txt").write_text("not a rules file")
        await until(watcher, lambda: watcher.events > events)
        shutil.copy(client, folder / "clients" / "new.yaml")
        await until(watcher, lambda: watcher.reloads == 2)
        assert reloads.changed[1] == frozenset({folder / "clients" / "new.yaml"})  # not README

        (folder / "clients" / "new.yaml").unlink()
        await until(watcher, lambda: watcher.reloads == 3)
        bump(folder / "shared.yaml")
        await until(watcher, lambda: watcher.reloads == 4)
        assert reloads.changed[3] == frozenset({folder / "shared.yaml"})
    finally:
        await watcher.stop()


async def test_an_idle_watcher_never_wakes_up(tmp_path):
    folder = tmp_path / "rules"
    shutil.copytree(RULES, folder)
    watcher = RulesWatcher(folder, Reloads())
    await watcher.start()
    try:
        await asyncio.sleep(1.5)  # the time in which a polling watcher would have looked
        assert (watcher.events, watcher.reloads) == (0, 0)
    finally:
        await watcher.stop()


async def test_an_invalid_file_keeps_the_running_rules_and_says_why(tmp_path):
    folder = tmp_path / "rules"
    shutil.copytree(RULES, folder)
    holder = RulesHolder(folder)
    running = holder.current
    watcher = RulesWatcher(folder, holder.reload, settle=0.05)
    await watcher.start()
    client = folder / "clients" / "rossi-idraulica.yaml"
    try:
        client.write_text(client.read_text().replace("timezone:", "timezon:"))
        await until(watcher, lambda: holder.last_error is not None)
        assert holder.current is running
        assert f"{client}:" in (holder.last_error or "")
        assert "unknown key 'timezon'" in (holder.last_error or "")

        client.write_text(
            client.read_text().replace("timezon:", "timezone:").replace("0611111112", "0611111119")
        )
        await until(watcher, lambda: holder.last_error is None)
        assert "0611111119" in holder.current.number_index
    finally:
        await watcher.stop()


async def test_a_failing_reload_does_not_stop_the_watcher(tmp_path):
    folder = tmp_path / "rules"
    shutil.copytree(RULES, folder)
    calls = Reloads()

    def explode(changed: frozenset[Path]) -> None:
        calls(changed)
        raise RuntimeError("boom")

    watcher = RulesWatcher(folder, explode, settle=0.05)
    await watcher.start()
    try:
        bump(folder / "shared.yaml")
        await until(watcher, lambda: watcher.reloads == 1)
        bump(folder / "shared.yaml")
        await until(watcher, lambda: watcher.reloads == 2)
        assert calls.count == 2
    finally:
        await watcher.stop()


async def test_a_single_rules_file_is_watched_by_name(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("x: 1\n")
    reloads = Reloads()
    watcher = RulesWatcher(rules, reloads, settle=0.05)
    await watcher.start()
    try:
        events = watcher.events
        (tmp_path / "other.yaml").write_text("y: 2\n")
        await until(watcher, lambda: watcher.events > events)
        bump(rules)
        await until(watcher, lambda: watcher.reloads == 1)
        assert reloads.changed == [frozenset({rules})]
    finally:
        await watcher.stop()
