"""`ivr campaign list|show|start|pause|stop|import|rpo|report|check|dnc`: campaigns from a shell.

Every command works on the database and the campaign files; start, pause and stop also wake
the running engine (if any) so it acts at once rather than at its next due time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from ivr import config, tables
from ivr.campaigns import importer, lists, store
from ivr.campaigns.load import load_campaigns
from ivr.campaigns.model import VERIFICATION, Campaign, Campaigns
from ivr.campaigns.models import CENTER
from ivr.campaigns.report import Progress, lists_of, progress, refusals_of
from ivr.dialpolicy import NumberError, normalise
from ivr.records.db import make_engine, session_factory, upgrade
from ivr.records.report import visible
from ivr.services import clock_of

T = TypeVar("T")


class Context:
    def __init__(self, args: argparse.Namespace) -> None:
        from ivr.routing import load_rules

        self.settings = config.load(getattr(args, "config", None))
        self.rules = load_rules(self.settings.rules)
        self.campaigns: Campaigns = load_campaigns(self.settings.rules, self.rules, self.settings)
        self.now = clock_of(self.settings)()

    def campaign(self, campaign_id: str) -> Campaign:
        found = self.campaigns.get(campaign_id)
        if found is None:
            known = ", ".join(sorted(self.campaigns.by_id)) or "none"
            raise SystemExit(f"ivr: no campaign {campaign_id!r} (campaigns: {known})")
        return found

    def run(self, work: Callable[[store.Sessions], Awaitable[T]]) -> T:
        async def go() -> T:
            await upgrade(self.settings.db_url)
            engine = make_engine(self.settings.db_url)
            try:
                return await work(session_factory(engine))
            finally:
                await engine.dispose()

        return asyncio.run(go())


def _wake(settings: config.Settings) -> str:
    from ivr.control import call_engine

    try:
        code, _ = call_engine(settings, "/campaigns/wake", "POST")
    except OSError:
        return "no engine is running: it acts on this when it starts"
    return "the engine acts on it now" if code == 200 else f"the engine answered {code}"


async def _progress_all(ctx: Context, sessions: store.Sessions) -> list[Progress]:
    found = await store.states(sessions)
    return [
        await progress(sessions, c, found[c.id].status if c.id in found else "new", ctx.now)
        for c in ctx.campaigns.by_id.values()
    ]


def cmd_list(args: argparse.Namespace) -> int:
    ctx = Context(args)
    rows = ctx.run(lambda s: _progress_all(ctx, s))
    if args.json:
        print(json.dumps([p.as_json() for p in rows], indent=2))
        return 0
    if not rows:
        print("no campaigns (routing_rules/campaigns/*.yaml)")
    for p in rows:
        print(
            f"{p.campaign_id:28} {p.kind:11} {p.mode:11} {p.status:8} "
            f"{p.contacts - p.left}/{p.contacts} contacts done  {visible(p.client_name)}"
        )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    ctx = Context(args)
    campaign = ctx.campaign(args.campaign)

    async def work(sessions: store.Sessions) -> tuple[Progress, list[Any], list[Any]]:
        found = await store.states(sessions)
        status = found[campaign.id].status if campaign.id in found else "new"
        return (
            await progress(sessions, campaign, status, ctx.now),
            await lists_of(sessions, campaign.id),
            await refusals_of(sessions, campaign.id, 20),
        )

    p, listed, refusals = ctx.run(work)
    c = campaign
    print(f"{c.id}: {c.name} ({c.kind}) for {c.client_name} [{p.status}]")
    print(f"  file {c.file}; groups {', '.join(c.groups)}; caller ID {c.caller_id}")
    print(
        f"  pacing {c.mode}"
        + (f" (ratio {c.ratio}, at most {c.max_ratio})" if c.mode == "ratio" else "")
    )
    print(f"  {c.max_attempts} calls at most, {c.per_day} a day; AMD {'on' if c.amd else 'off'};"
          f" recording {'on' if c.recording else 'off'}")  # fmt: skip
    register = "required" if c.register_required else "not needed"
    print(f"  opposition register check: {register}")
    print(f"  contacts {p.contacts}, left {p.left}: {p.statuses}")
    print(
        f"  calls {p.dialled}, answered {p.answered}, connected {p.connected}, dropped {p.dropped}"
    )
    for row in listed:
        checked = row.register_checked_on.isoformat() if row.register_checked_on else "never"
        print(f"  list #{row.id} {visible(row.name)}: {row.rows} rows, {row.added} new,"
              f" {row.merged} merged, {row.bad} bad; register checked {checked}")  # fmt: skip
    for r in refusals:
        print(f"  refused {r.at:%Y-%m-%d %H:%M} {r.number or '-'}: {r.reason}: {visible(r.detail)}")
    return 0


def _set_status(args: argparse.Namespace, status: str) -> int:
    ctx = Context(args)
    campaign = ctx.campaign(args.campaign)
    ctx.run(lambda s: store.set_status(s, campaign.id, status, ctx.now, "command line"))
    print(f"campaign {campaign.id}: {status}; {_wake(ctx.settings)}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    ctx = Context(args)
    campaign = ctx.campaign(args.campaign)
    if campaign.kind == VERIFICATION:
        print(f"ivr: {campaign.id} calls the appointments drawn or contested"
              " (ivr verify draw): it takes no list", file=sys.stderr)  # fmt: skip
        return 2
    path: Path = args.file
    try:
        total = importer.count_rows(path)
        header, rows = importer.read_table(path)
    except (OSError, importer.ImportError_) as exc:
        print(f"ivr: {exc}", file=sys.stderr)
        return 1
    from tqdm import tqdm

    bar = tqdm(total=total, unit=" rows", desc="reading", file=sys.stderr,
               disable=args.quiet or None, mininterval=0.3)  # fmt: skip
    try:
        parsed = importer.parse_rows(
            campaign.kind, header, importer.with_progress(rows, bar.update)
        )
    except importer.ImportError_ as exc:
        bar.close()
        print(f"ivr: {path.name}: {exc}", file=sys.stderr)
        return 1
    bar.close()
    bar = tqdm(total=len(parsed.contacts), unit=" contacts", desc="writing", file=sys.stderr,
               disable=args.quiet or None, mininterval=0.3)  # fmt: skip
    summary = ctx.run(
        lambda s: lists.import_contacts(s, campaign, parsed, path.name, ctx.now, bar.update)
    )
    bar.close()
    for bad in parsed.bad:
        print(f"{path.name}: {bad}")
    if args.errors:
        with open(args.errors, "w", newline="") as handle:
            errors: list[tables.Row] = [[b.line, b.column, b.reason] for b in parsed.bad]
            tables.write_csv(handle, [["line", "column", "reason"], *errors])
    print(
        f"list #{summary.list_id}: {summary.rows} rows, {summary.added} new contacts,"
        f" {summary.merged} merged, {summary.bad} bad rows"
    )
    if campaign.register_required:
        print(f"check it against the opposition register before calling: ivr campaign rpo"
              f" {campaign.id} ANSWER --checked-on DATE")  # fmt: skip
    return 0 if summary.added or summary.merged or not summary.rows else 1


def read_numbers(path: Path) -> tuple[set[str], list[str]]:
    """Numbers from a file: one per line, or a CSV whose first (or `number`) column has them."""
    header, rows = importer.read_table(path) if path.suffix.lower() == ".xlsx" else (None, None)
    values: list[tuple[int, str]] = []
    if rows is not None and header is not None:
        values = [(n, str(r[0] or "")) for n, r in rows if r]
        values.insert(0, (1, header[0]))
    else:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
        for n, line in enumerate(text.splitlines(), start=1):
            cell = line.replace(";", ",").split(",")[0].strip().strip('"')
            values.append((n, cell))
    numbers, bad = set(), []
    for n, cell in values:
        if not cell or (n == 1 and not any(ch.isdigit() for ch in cell)):
            continue  # a blank line or the header
        try:
            numbers.add(normalise(cell))
        except NumberError as exc:
            bad.append(f"line {n}: {cell!r}: {exc}")
    return numbers, bad


def cmd_rpo(args: argparse.Namespace) -> int:
    ctx = Context(args)
    campaign = ctx.campaign(args.campaign)
    try:
        checked_on = date.fromisoformat(args.checked_on)
        numbers, bad = read_numbers(args.file)
    except ValueError as exc:
        print(f"ivr: --checked-on: {exc}", file=sys.stderr)
        return 2
    except (OSError, importer.ImportError_) as exc:
        print(f"ivr: {exc}", file=sys.stderr)
        return 1
    for line in bad:
        print(f"{args.file.name}: {line}")
    try:
        summary = ctx.run(
            lambda s: lists.apply_register(s, campaign, numbers, checked_on, ctx.now, args.list)
        )
    except lists.RegisterDateError as exc:
        print(f"ivr: --checked-on: {exc}", file=sys.stderr)
        return 2
    for list_id in summary.later:
        print(f"list #{list_id} was imported after {checked_on.isoformat()}: not stamped,"
              " check it against the register again")  # fmt: skip
    print(
        f"register check of {checked_on.isoformat()} applied to {summary.lists} lists:"
        f" {summary.found} numbers found in the register (never called),"
        f" {summary.released} no longer there"
    )
    if not campaign.register_required:
        print(f"note: campaign {campaign.id} does not need the check ({campaign.kind},"
              f" own customers: {campaign.own_customers})")  # fmt: skip
    print(_wake(ctx.settings))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    ctx = Context(args)
    chosen = [ctx.campaign(args.campaign)] if args.campaign else list(ctx.campaigns.by_id.values())

    async def work(sessions: store.Sessions) -> list[Progress]:
        found = await store.states(sessions)
        return [
            await progress(sessions, c, found[c.id].status if c.id in found else "new", ctx.now)
            for c in chosen
        ]

    rows = ctx.run(work)
    if args.json:
        print(json.dumps([p.as_json() for p in rows], indent=2))
        return 0
    if args.csv:
        table: list[tables.Row] = [
            ["campaign", "day", "placed", "answered", "dropped", "drop_rate"]
        ]
        for p in rows:
            for day, placed, answered, dropped in p.per_day:
                rate = f"{dropped / answered:.4f}" if answered else ""
                table.append([p.campaign_id, day.isoformat(), placed, answered, dropped, rate])
        tables.write_csv(sys.stdout, table)
        return 0
    for p in rows:
        print(f"{p.campaign_id} ({p.kind}, {p.status}): {p.contacts} contacts, {p.left} left")
        print(f"  calls {p.dialled}; answered {p.answered}; connected {p.connected};"
              f" dropped {p.dropped}")  # fmt: skip
        print(f"  call results: {p.system}")
        print(f"  operators' outcomes: {p.outcomes}")
        if p.promised:
            print(f"  promised: EUR {p.promised}")
        if p.appointments:
            print(f"  appointments: {p.appointments}")
        print(f"  refusals: {p.refusals}")
        for day, placed, answered, dropped in p.per_day:
            rate = f"{100 * dropped / answered:.1f} %" if answered else "-"
            print(f"  {day}: {placed} calls, {answered} answered, {dropped} dropped ({rate})")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """What the legal floor would refuse for the campaign in FILE, and why."""
    from ivr.campaigns import preflight
    from ivr.routing import RulesError, load_rules

    path = Path(args.file).resolve()
    settings = config.load(getattr(args, "config", None))
    root = path.parent.parent  # <rules>/campaigns/<id>.yaml
    try:
        rules = load_rules(root)
        found = load_campaigns(root, rules, settings)
    except RulesError as exc:
        print(f"ivr: the floor refuses {args.file}:", file=sys.stderr)
        print(str(exc), file=sys.stderr)
        return 1
    campaign = next((c for c in found.by_id.values() if Path(root / c.file) == path), None)
    if campaign is None:
        print(f"ivr: {args.file} is not a campaign file of {root}", file=sys.stderr)
        return 2
    for problem in found.warnings:
        print(problem)
    now = clock_of(settings)()
    policy = rules.dial_policy_for(campaign.client_id)
    for line in preflight.explain(campaign, preflight.today_in(campaign, now), policy):
        print(line)
    return 0


def cmd_dnc(args: argparse.Namespace) -> int:
    ctx = Context(args)
    scope = CENTER if args.scope == "center" else args.scope
    if scope != CENTER and scope not in ctx.rules.clients:
        print(f"ivr: {args.scope!r} is neither 'center' nor a client id", file=sys.stderr)
        return 2
    if args.action == "list":
        rows = ctx.run(lambda s: lists.do_not_call(s, scope))
        for row in rows:
            print(f"{row.number}  {row.added_at:%Y-%m-%d}  {visible(row.reason)} ({row.source})")
        return 0
    numbers: set[str] = set()
    bad: list[str] = []
    for item in args.items:
        path = Path(item)
        if path.is_file():
            found, wrong = read_numbers(path)
            numbers |= found
            bad += wrong
            continue
        try:
            numbers.add(normalise(item))
        except NumberError as exc:
            bad.append(f"{item!r}: {exc}")
    for line in bad:
        print(f"not a number: {line}")
    added = ctx.run(
        lambda s: lists.add_do_not_call(s, scope, numbers, args.reason, "command line", ctx.now)
    )
    print(f"{added} numbers added to the {args.scope} do-not-call list ({len(numbers)} given)")
    return 0 if not bad else 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    top = sub.add_parser("campaign", help="outbound campaigns: lists, pacing, progress")
    actions = top.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="every campaign and its progress")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)
    show = actions.add_parser("show", help="one campaign: settings, lists, latest refusals")
    show.add_argument("campaign")
    show.set_defaults(func=cmd_show)
    for name, status, text in (
        ("start", store.RUNNING, "start (or resume) calling"),
        ("pause", store.PAUSED, "place no new call (calls in progress go on)"),
        ("stop", store.STOPPED, "stop the campaign"),
    ):
        parser = actions.add_parser(name, help=text)
        parser.add_argument("campaign")
        parser.set_defaults(func=lambda a, s=status: _set_status(a, s))
    imp = actions.add_parser("import", help="import a contact list (CSV or XLSX)")
    imp.add_argument("campaign")
    imp.add_argument("file", type=Path)
    imp.add_argument("--errors", type=Path, help="also write the bad rows to this CSV file")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    imp.set_defaults(func=cmd_import)
    rpo = actions.add_parser(
        "rpo", help="apply the opposition register's answer (the numbers it lists) to the lists"
    )
    rpo.add_argument("campaign")
    rpo.add_argument("file", type=Path, help="the numbers found in the register")
    rpo.add_argument("--checked-on", required=True, help="the day of the check (YYYY-MM-DD)")
    rpo.add_argument("--list", type=int, action="append", help="only this list (repeatable)")
    rpo.set_defaults(func=cmd_rpo)
    report = actions.add_parser("report", help="outcomes, refusals and drop rate per day")
    report.add_argument("campaign", nargs="?")
    form = report.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true")
    form.add_argument("--csv", action="store_true", help="the drop rate per day, as CSV")
    report.set_defaults(func=cmd_report)
    chk = actions.add_parser(
        "check", help="what the legal floor would refuse for a campaign file, and why"
    )
    chk.add_argument("file", type=Path, help="routing_rules/campaigns/<id>.yaml")
    chk.set_defaults(func=cmd_check)
    dnc = actions.add_parser("dnc", help="do-not-call lists: the center's or a client's")
    dnc.add_argument("action", choices=["add", "list"])
    dnc.add_argument("scope", help="center, or a client id")
    dnc.add_argument("items", nargs="*", help="add: numbers, or files of numbers")
    dnc.add_argument("--reason", default="asked not to be called")
    dnc.set_defaults(func=cmd_dnc)
