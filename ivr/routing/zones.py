"""The clients' time zones, for commands that show stored times (`ivr calls`)."""

from __future__ import annotations

import sys
from datetime import tzinfo
from pathlib import Path

from ivr.routing.diskcache import FOLDER, DiskRulesCache
from ivr.routing.load import load_rules
from ivr.routing.source import RulesError


def client_zones(rules: Path, state_dir: Path) -> dict[str, tzinfo]:
    """Each client's time zone from the rules (through the engine's compiled-rules cache:
    a second, not a full load of a large folder); empty (the machine's zone) if they do not
    load."""
    cache = DiskRulesCache(state_dir / FOLDER)
    try:
        return {id_: client.zone for id_, client in load_rules(rules, cache).clients.items()}
    except (RulesError, OSError) as exc:
        print(
            f"ivr calls: times in this machine's zone, the rules do not load: {exc}",
            file=sys.stderr,
        )
        return {}
    finally:
        cache.wait()  # a cache entry this command wrote is whole before it exits
