"""`ivr check`, `ivr simulate`, `ivr schema`, `ivr override`: the rules from a shell."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ivr import config
from ivr.clock import utcnow
from ivr.routing.decision import CallInfo, Decision, Step
from ivr.routing.evaluate import evaluate
from ivr.routing.load import load_rules
from ivr.routing.model import Rules
from ivr.routing.overrides import (
    MODES,
    OVERRIDES_FILE,
    Override,
    OverrideError,
    Overrides,
    OverrideStore,
)
from ivr.routing.schema import render
from ivr.routing.source import RulesError

_DURATION = re.compile(r"^([0-9]+)([mhd])$")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the rules subcommands to the `ivr` command's subparsers."""
    check = sub.add_parser("check", help="check routing rules; FILE:LINE:COL for each problem")
    check.add_argument("path", type=Path, help="a rules folder or a single rules file")
    check.set_defaults(func=cmd_check)

    sim = sub.add_parser(
        "simulate",
        help="print the decision for one imagined call, as JSON; or --replay the stored calls",
    )
    sim.add_argument("path", type=Path, help="a rules folder or a single rules file")
    sim.add_argument("--number", help="the number dialled (required without --replay)")
    sim.add_argument("--caller", default="", help="the caller's number; empty: withheld")
    sim.add_argument(
        "--at", help="ISO date-time; without an offset it is the client's local time (default: now)"
    )
    sim.add_argument("--digits", default="", help="menu keys pressed so far: 1, 12...")
    sim.add_argument("--since", type=float, help="seconds since this caller last called")
    sim.add_argument("--overrides", type=Path, help="an overrides JSON file to apply")
    sim.set_defaults(func=cmd_simulate)

    sub.add_parser("schema", help="print the JSON schema of the rules files").set_defaults(
        func=cmd_schema
    )

    over = sub.add_parser("override", help="force a client open, closed or elsewhere for a time")
    over.add_argument("--file", type=Path, help="the overrides file (default: state folder)")
    over.add_argument("--rules", type=Path, help="rules to check client and group names against")
    actions = over.add_subparsers(dest="action", required=True)
    put = actions.add_parser("set", help="set a client's override (replacing any)")
    put.add_argument("client", help="client id, or * for every client")
    put.add_argument("mode", choices=MODES)
    put.add_argument("target", nargs="?", default="", help="number (forward) or group (group)")
    until = put.add_mutually_exclusive_group()
    until.add_argument("--until", help="ISO date-time when it ends")
    until.add_argument("--for", dest="duration", help="how long: 30m, 4h, 2d")
    put.add_argument("--reason", default="", help="said in every decision it makes")
    put.set_defaults(func=cmd_override_set)
    clear = actions.add_parser("clear", help="remove a client's override")
    clear.add_argument("client")
    clear.set_defaults(func=cmd_override_clear)
    actions.add_parser("list", help="the overrides in force").set_defaults(func=cmd_override_list)


def cmd_check(args: argparse.Namespace) -> int:
    from ivr.campaigns.load import load_campaigns

    try:
        rules = load_rules(args.path)
        campaigns = load_campaigns(args.path, rules) if args.path.is_dir() else None
    except RulesError as exc:
        print(exc, file=sys.stderr)
        count = len(exc.problems)
        print(f"failed: {count} problem{'s' if count != 1 else ''}", file=sys.stderr)
        return 1
    for warning in (*rules.warnings, *(campaigns.warnings if campaigns else ())):
        print(warning)
    files = [c for c in campaigns.by_id.values() if not c.verifies] if campaigns else []
    print(f"ok: {rules.summary()}" + (f", {len(files)} campaigns" if campaigns else ""))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    if not args.number:
        print("--number is required (or --replay)", file=sys.stderr)
        return 2
    try:
        rules = load_rules(args.path)
        overrides = OverrideStore(args.overrides).load() if args.overrides else None
    except (RulesError, OverrideError) as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        now = _instant(args.at, rules, args.number)
    except ValueError as exc:
        print(f"--at: {exc}", file=sys.stderr)
        return 2
    call = CallInfo(
        called=args.number,
        caller=args.caller,
        digits=args.digits,
        seconds_since_last_call=args.since,
    )
    decision = evaluate(rules, call, now, overrides)
    print(json.dumps(decision_json(decision, now), indent=2, ensure_ascii=False))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(render())
    return 0


def cmd_override_set(args: argparse.Namespace) -> int:
    now = utcnow()
    try:
        until = _until(args, now)
        item = Override(args.client, args.mode, until, args.target, args.reason, set_at=now)
        problem = _check_against_rules(args, item)
        if problem:
            print(problem, file=sys.stderr)
            return 1
        _store(args).set(item, now)
    except (OverrideError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(_line(item))
    return 0


def cmd_override_clear(args: argparse.Namespace) -> int:
    try:
        removed = _store(args).clear(args.client, utcnow())
    except OverrideError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"cleared {args.client}" if removed else f"{args.client} had no override")
    return 0


def cmd_override_list(args: argparse.Namespace) -> int:
    now = utcnow()
    try:
        overrides: Overrides = _store(args).load()
    except OverrideError as exc:
        print(exc, file=sys.stderr)
        return 1
    active = [o for o in overrides.items if o.active(now)]
    for item in active:
        print(_line(item))
    if not active:
        print("no overrides")
    return 0


def decision_json(decision: Decision, now: datetime) -> dict[str, Any]:
    return {
        "at": now.isoformat(),
        "client": decision.client.id if decision.client else None,
        "open": decision.open,
        "why": decision.why,
        "rule": decision.rule,
        "chain": [_step_json(step) for step in decision.chain],
        "priority": decision.priority,
        "explanation": decision.explanation,
    }


def _step_json(step: Step) -> dict[str, Any]:
    """Only what differs from a default Step: a chain reads like the rules that made it."""
    out: dict[str, Any] = {"kind": step.kind}
    for f in dataclasses.fields(step):
        value = getattr(step, f.name)
        if f.name != "kind" and value != f.default:
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def _instant(text: str | None, rules: Rules, number: str) -> datetime:
    if not text:
        return utcnow()
    at = datetime.fromisoformat(text)
    if at.tzinfo is not None:
        return at
    client_id = rules.number_index.get(number)
    zone = rules.clients[client_id].zone if client_id else UTC
    return at.replace(tzinfo=zone)


def _until(args: argparse.Namespace, now: datetime) -> datetime | None:
    if args.duration:
        m = _DURATION.match(args.duration)
        if not m:
            raise ValueError(f"--for {args.duration!r}: a number and m, h or d: 30m, 4h, 2d")
        unit = {"m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
        return now + timedelta(**{unit: int(m.group(1))})
    if args.until:
        until = datetime.fromisoformat(args.until)
        return until if until.tzinfo else until.astimezone()  # naive: this machine's zone
    return None


def _check_against_rules(args: argparse.Namespace, item: Override) -> str | None:
    path = args.rules or _settings(args).rules
    try:
        rules = load_rules(path)
    except RulesError as exc:
        return f"the rules at {path} do not load, so the override cannot be checked:\n{exc}"
    if item.client != "*" and item.client not in rules.clients:
        return f"unknown client {item.client!r} in {path}"
    if item.mode == "group" and item.target not in rules.groups:
        return f"unknown group {item.target!r} in {path}"
    return None


def _settings(args: argparse.Namespace) -> config.Settings:
    return config.load(getattr(args, "config", None))


def _store(args: argparse.Namespace) -> Any:
    """The overrides file, or the database that engines sharing PostgreSQL read them from."""
    if args.file:
        return OverrideStore(args.file)
    settings = _settings(args)
    if settings.db_url.startswith("postgresql"):
        from ivr.nodes.overrides import DatabaseStore

        return DatabaseStore(settings.db_url)
    return OverrideStore(settings.shared_state / OVERRIDES_FILE)


def _line(item: Override) -> str:
    until = item.until.isoformat(timespec="minutes") if item.until else "until cleared"
    target = f" {item.target}" if item.target else ""
    reason = f" ({item.reason})" if item.reason else ""
    return f"{item.client}: {item.mode}{target}, {until}{reason}"
