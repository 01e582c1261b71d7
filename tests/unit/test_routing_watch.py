"""The rules watcher reloads on a change of any *.yaml under the folder, and on nothing else."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from ivr.routing import RulesHolder
from ivr.routing.watch import RulesWatcher

RULES = Path(__file__).resolve().parents[2] / "routing_rules"


class Reloads:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def bump(path: Path) -> None:
    """A change the watcher must see even within one mtime tick: another size and mtime."""
    path.write_text(path.read_text() + "\n# edited\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


async def test_a_changed_added_or_removed_rules_file_reloads(tmp_path):
    folder = tmp_path / "rules"
    shutil.copytree(RULES, folder)
    reloads = Reloads()
    watcher = RulesWatcher(folder, reloads, interval=0.01)
    await watcher.start()
    try:
        await watcher.wait_polls(3)
        assert reloads.count == 0

        bump(folder / "clients" / "rossi-idraulica.yaml")
        await watcher.wait_polls(2)
        assert reloads.count == 1

        (folder / "clients" / "README.txt").write_text("not a rules file")
        await watcher.wait_polls(3)
        assert reloads.count == 1

        shutil.copy(folder / "clients" / "rossi-idraulica.yaml", folder / "clients" / "new.yaml")
        await watcher.wait_polls(2)
        assert reloads.count == 2

        (folder / "clients" / "new.yaml").unlink()
        await watcher.wait_polls(2)
        assert reloads.count == 3
    finally:
        await watcher.stop()


async def test_an_invalid_file_keeps_the_running_rules_and_says_why(tmp_path):
    folder = tmp_path / "rules"
    shutil.copytree(RULES, folder)
    holder = RulesHolder(folder)
    running = holder.current
    watcher = RulesWatcher(folder, holder.reload, interval=0.01)
    await watcher.start()
    client = folder / "clients" / "rossi-idraulica.yaml"
    try:
        client.write_text(client.read_text().replace("timezone:", "timezon:"))
        await asyncio.wait_for(_until(watcher, lambda: holder.last_error is not None), 10)
        assert holder.current is running
        assert f"{client}:" in (holder.last_error or "")
        assert "unknown key 'timezon'" in (holder.last_error or "")

        client.write_text(
            client.read_text().replace("timezon:", "timezone:").replace("0611111112", "0611111119")
        )
        await asyncio.wait_for(_until(watcher, lambda: holder.last_error is None), 10)
        assert "0611111119" in holder.current.number_index
    finally:
        await watcher.stop()


async def test_a_failing_reload_does_not_stop_the_watcher(tmp_path):
    folder = tmp_path / "rules"
    shutil.copytree(RULES, folder)
    calls = Reloads()

    def explode() -> None:
        calls()
        raise RuntimeError("boom")

    watcher = RulesWatcher(folder, explode, interval=0.01)
    await watcher.start()
    try:
        bump(folder / "shared.yaml")
        await watcher.wait_polls(2)
        bump(folder / "shared.yaml")
        await watcher.wait_polls(2)
        assert calls.count == 2
    finally:
        await watcher.stop()


async def _until(watcher: RulesWatcher, condition) -> None:  # type: ignore[no-untyped-def]
    while not condition():
        await watcher.wait_polls(1)
