"""`ivr simulate PATH --replay`: registered on the rules' `simulate` command, which knows
nothing of the records."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from ivr import config
from ivr.records.db import make_engine, session_factory, upgrade
from ivr.records.report import visible
from ivr.replay import compare as replay
from ivr.routing.load import load_rules
from ivr.routing.model import Rules
from ivr.routing.source import RulesError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add --replay to the `simulate` subcommand (registered first by ivr.routing.cli)."""
    sim = sub.choices["simulate"]
    sim.add_argument(
        "--replay",
        action="store_true",
        help="decide the stored calls again with PATH and list those the live rules route "
        "differently",
    )
    sim.add_argument("--limit", type=_positive, default=1000, help="--replay: latest N calls")
    sim.add_argument("--json", action="store_true", help="--replay: print JSON")
    simulate = sim.get_default("func")

    def simulate_or_replay(args: argparse.Namespace) -> Any:
        return cmd_replay(args) if args.replay else simulate(args)

    sim.set_defaults(func=simulate_or_replay)


def cmd_replay(args: argparse.Namespace) -> int:
    """Exit 0 whatever changes: the list is for a person to read before the file goes live."""
    settings = config.load(getattr(args, "config", None))
    try:
        candidate = load_rules(args.path)
    except RulesError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        live = load_rules(settings.rules)
    except RulesError as exc:
        print(f"the live rules at {settings.rules} do not load:\n{exc}", file=sys.stderr)
        return 1
    result = asyncio.run(_replay(settings.db_url, live, candidate, args.limit))
    print(replay.format_json(result) if args.json else replay.format_text(result, visible), end="")
    return 0


async def _replay(url: str, live: Rules, candidate: Rules, limit: int) -> replay.Replay:
    await upgrade(url)
    engine = make_engine(url)
    try:
        return await replay.replay(live, candidate, session_factory(engine), limit)
    finally:
        await engine.dispose()


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value
