"""Running the purge and the erasure over every handler (ivr.privacy), and removing the
files they name; the `ivr purge` and `ivr erase` commands; the engine's daily purge."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tomllib
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ivr.account.cel import account_path
from ivr.account.privacy import account_files, blank_account, blank_old
from ivr.feature import Feature
from ivr.privacy import Cutoffs, Removed, Scope, handlers, variants

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from ivr.config import Settings
    from ivr.lease import Job
    from ivr.routing.model import Retention, Rules
    from ivr.services import Services

log = logging.getLogger(__name__)
LEASE = "purge"  # the daily purge runs in the engine that holds this lease
# The only folders (of the run folder) a purge or an erasure deletes files from: a path read
# from the database never sends it anywhere else. recordings: the campaigns' calls.
FILE_FOLDERS = ("messages", "prompts", "recordings")


async def purge(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, settings: Settings, now: datetime
) -> Removed:
    """Everything past its client's retention, in one transaction; then its files."""
    groups: dict[Retention, set[str]] = {}
    for client in rules.clients.values():
        if client.retention is not None:
            groups.setdefault(client.retention, set()).add(client.id)
    own = frozenset(c for ids in groups.values() for c in ids)
    steps = [(Scope(besides=own), rules.retention)]
    steps += [(Scope(only=frozenset(ids)), retention) for retention, ids in groups.items()]
    removed = Removed(at=now)
    async with sessions.begin() as session:
        for scope, retention in steps:
            cutoffs = Cutoffs.of(retention, now)
            for handler in handlers():
                await handler.purge(session, scope, cutoffs, removed)
    remove_files(settings, removed)
    return removed


async def purge_account(path: Path, rules: Rules, now: datetime) -> int:
    """Blank the callers in Asterisk's account (the CEL file at path) past the shortest
    retention of numbers any client has: its lines name no client. Lines blanked."""
    kept = [rules.retention.numbers]
    kept += [c.retention.numbers for c in rules.clients.values() if c.retention is not None]
    before = now - timedelta(days=min(kept))
    return await asyncio.to_thread(blank_old, path, before)


def settings_and_accounts(config_file: Path | None) -> tuple[Settings, list[Path]]:
    """The settings an admin's command runs with, and the accounts of calls this host keeps:
    the instance's own or, given a cluster's settings file, every node's (the first node's
    settings: the database is the same for all; a node on another host keeps its account
    there, and its own engine's daily purge blanks it)."""
    from ivr.config import load

    if config_file is not None and "cluster" in tomllib.loads(config_file.read_text()):
        from ivr.cluster import spec

        cluster = spec.load(config_file)
        nodes = [spec.node_settings(cluster, node, dict(os.environ)) for node in cluster.nodes]
        return nodes[0], list(dict.fromkeys(account_path(node) for node in nodes))
    settings = load(config_file)
    return settings, [account_path(settings)]


async def erase(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    number: str,
    accounts: Sequence[Path] | None = None,
    now: datetime | None = None,
) -> Removed:
    """Every row and file of the calls of this number, or that name it, in one transaction;
    then the same calls and number in Asterisk's accounts (default: this instance's)."""
    from ivr.services import clock_of

    numbers = variants(number)
    removed = Removed(at=now or clock_of(settings)())
    async with sessions.begin() as session:
        linkedids: set[str] = set()
        for handler in handlers():
            linkedids |= await handler.linkedids(session, numbers)
        for handler in handlers():
            await handler.erase(session, frozenset(linkedids), numbers, removed)
    remove_files(settings, removed)
    for account in accounts if accounts is not None else [account_path(settings)]:
        for path in account_files(account):  # its archives too: an erasure misses nothing
            removed.add(
                "account lines",
                await asyncio.to_thread(
                    blank_account, path, linkedids=frozenset(linkedids), numbers=numbers
                ),
            )
    return removed


def remove_files(settings: Settings, removed: Removed) -> list[Path]:
    """Delete the named files that exist under FILE_FOLDERS; count them as "files"."""
    roots = [settings.host_path(settings.run_dir / folder).resolve() for folder in FILE_FOLDERS]
    gone: list[Path] = []
    for name in sorted(removed.files):
        path = Path(name) if name.startswith("/") else settings.run_dir / name
        host = settings.host_path(path).resolve()
        if not any(host.is_relative_to(root) for root in roots):
            log.warning("not deleting %s: outside the folders of recordings and prompts", host)
            continue
        if host.is_file():
            host.unlink()
            gone.append(host)
    removed.add("files", len(gone))
    removed.files = {str(path) for path in gone}
    return gone


def next_due(now: datetime, at: str) -> datetime:
    """The next HH:MM (in now's time zone) strictly after now."""
    hour, minute = (int(part) for part in at.split(":"))
    due = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return due if due > now else due + timedelta(days=1)


class DailyPurge(Feature):
    """Sleeps until the setting purge_at (the engine's local time), purges, and again."""

    name = "purge"
    sleep = staticmethod(asyncio.sleep)

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self._job: Job | None = None
        self._account: asyncio.Task[None] | None = None
        self.last: dict[str, Any] | None = None

    async def start(self) -> None:
        # One engine purges the database (the lease holder): the others would find nothing
        # left. Each engine blanks its own node's account of calls, a file only it has.
        self._job = self.services.leases.run(LEASE, self._loop)
        self._account = asyncio.create_task(self._account_loop(), name="purge-account")

    async def close(self) -> None:
        if self._job is not None:
            await self._job.close()
        if self._account is not None and not self._account.done():
            self._account.cancel()
            await asyncio.wait([self._account])

    async def _account_loop(self) -> None:
        services = self.services
        while True:
            now = services.clock().astimezone()
            await asyncio.sleep((next_due(now, services.settings.purge_at) - now).total_seconds())
            try:
                lines = await purge_account(
                    account_path(services.settings), services.rules.current, services.clock()
                )
            except Exception:
                log.exception("blanking the account of calls failed; it runs again tomorrow")
                continue
            log.info("daily purge: %d lines of Asterisk's account blanked", lines)

    async def _loop(self) -> None:
        services = self.services
        while True:
            now = services.clock().astimezone()
            due = next_due(now, services.settings.purge_at)
            await self.sleep((due - now).total_seconds())
            try:
                removed = await purge(
                    services.sessions, services.rules.current, services.settings, services.clock()
                )
            except Exception:
                log.exception("the daily purge failed; it runs again tomorrow")
                continue
            self.last = {"at": services.clock().isoformat(), "removed": removed.counts}
            log.info("daily purge: %s", removed.counts or "nothing to remove")

    def status(self) -> dict[str, Any]:
        return {"at": self.services.settings.purge_at, "last": self.last}


def _report(title: str, removed: Removed) -> str:
    lines = [title]
    lines += [f"  {kind}: {count}" for kind, count in sorted(removed.counts.items())]
    lines += [f"  removed {path}" for path in sorted(removed.files)]
    if len(lines) == 1:
        lines.append("  nothing")
    return "\n".join(lines) + "\n"


async def _with_sessions(settings: Settings, work: Any) -> Removed:
    from ivr.records.db import make_engine, session_factory, upgrade

    await upgrade(settings.db_url)
    engine = make_engine(settings.db_url)
    try:
        return await work(session_factory(engine))
    finally:
        await engine.dispose()


def _config_file(args: argparse.Namespace) -> Path | None:
    given = getattr(args, "config", None) or os.environ.get("IVR_CONFIG")
    return Path(given) if given else None


def run_erase(args: argparse.Namespace) -> int:
    settings, accounts = settings_and_accounts(_config_file(args))
    removed = asyncio.run(
        _with_sessions(settings, lambda s: erase(s, settings, args.number, accounts))
    )
    shown = ", ".join(sorted(variants(args.number)))
    print(_report(f"erased every trace of {args.number} (as {shown}):", removed), end="")
    return 0


def run_purge(args: argparse.Namespace) -> int:
    from ivr.clock import clock_of
    from ivr.routing import load_rules

    settings, accounts = settings_and_accounts(_config_file(args))
    rules = load_rules(settings.rules)
    now = clock_of(settings)()
    removed = asyncio.run(_with_sessions(settings, lambda s: purge(s, rules, settings, now)))
    for path in accounts:
        removed.add("account lines", asyncio.run(purge_account(path, rules, now)))
    print(_report("purged what is past its retention:", removed), end="")
    return 0


def register(sub: Any) -> None:
    """Add `erase` and `purge` to the `ivr` command's subparsers."""
    parser = sub.add_parser("erase", help="remove a caller's data everywhere, and say what")
    parser.add_argument("--number", required=True, help="the caller's number, in any form")
    parser.set_defaults(func=run_erase)
    sub.add_parser("purge", help="remove now what is past each client's retention").set_defaults(
        func=run_purge
    )
