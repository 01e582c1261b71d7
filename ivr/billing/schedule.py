"""The engine's billing job: draw each client's verification sample once its month is over
(and the grace period past), and issue each client's statement on the settings' day of the
next month. due_work() is the whole job, one function (a lease held by one engine of several
can wrap it); the feature sleeps until the next thing is due, or until woken, never polls.

Two engines doing it at once are harmless: a month is drawn once and a statement issued once
(one row per client and month; the second engine finds the first one's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ivr.billing import draw, statement
from ivr.billing.audit import ENGINE
from ivr.billing.results import Month
from ivr.campaigns.model import DIALER_WAKE, Campaign
from ivr.feature import Feature

if TYPE_CHECKING:
    from ivr.lease import Job
    from ivr.services import Services

log = logging.getLogger(__name__)
WAKE = "billing"  # ivr.wake topic: look again now
LEASE = "billing"  # the draws and statements are the job of the engine holding this lease
LONGEST_SLEEP = 24 * 3600.0  # nothing due: look again tomorrow (a new client, a new month)
ISSUE_HOUR = 6  # statements are issued at 06:00 in the client's time zone
RETRY = timedelta(minutes=10)
MONTHS_BACK = 3  # months still drawn or issued late (an engine that was off at the time)


def issue_due(month: Month, zone: str, day: int) -> datetime:
    return month.next().day(day, zone, ISSUE_HOUR)


async def due_work(services: Services, campaigns: list[Campaign], now: datetime) -> datetime:
    """Draw and issue whatever is due now; when the next thing is due."""
    settings = services.settings
    rules = services.rules.current
    upcoming: list[datetime] = []
    billed = sorted({c.client_id for c in campaigns if c.billing is not None})
    for client_id in billed:
        client = rules.clients.get(client_id)
        if client is None:
            continue
        zone = client.card.timezone
        current = Month.containing(now, zone)
        months = [current]
        for _ in range(MONTHS_BACK):
            months.append(months[-1].previous())
        verified = any(c.verifies and c.client_id == client_id for c in campaigns)
        for month in reversed(months[1:]):
            if settings.verify_auto_draw and verified:
                due = draw.due_at(month, zone, settings.verify_grace_days)
                if due > now:
                    upcoming.append(due)
                else:
                    await _draw(services, campaigns, client_id, month, zone, now)
            if settings.billing_issue_day:
                due = issue_due(month, zone, settings.billing_issue_day)
                if due > now:
                    upcoming.append(due)
                else:
                    await _issue(services, campaigns, client_id, client.name, zone, month, now)
        if settings.verify_auto_draw and verified:
            upcoming.append(draw.due_at(current, zone, settings.verify_grace_days))
        if settings.billing_issue_day:
            upcoming.append(issue_due(current, zone, settings.billing_issue_day))
    return min(upcoming, default=now + timedelta(seconds=LONGEST_SLEEP))


async def _draw(
    services: Services, campaigns: list[Campaign], client_id: str, month: Month, zone: str,
    now: datetime,
) -> None:  # fmt: skip
    settings = services.settings
    if await draw.find(services.sessions, client_id, month) is not None:
        return
    try:
        made = await draw.draw_month(
            services.sessions, campaigns, client_id, month, zone, share=settings.verify_share,
            minimum=settings.verify_minimum, grace_days=settings.verify_grace_days, who=ENGINE,
            now=now,
        )  # fmt: skip
    except draw.DrawError as exc:
        log.debug("no draw: %s", exc)
        return
    if made.new:
        await services.wake.send(DIALER_WAKE)  # its verification calls can start
        log.info("verification sample of %s for %s: %d of %d appointments (seed %s)",
                 client_id, month, len(made.draw.drawn), len(made.draw.population),
                 made.draw.seed)  # fmt: skip


async def _issue(
    services: Services, campaigns: list[Campaign], client_id: str, name: str, zone: str,
    month: Month, now: datetime,
) -> None:  # fmt: skip
    found = await statement.issued_months(services.sessions, client_id)
    if str(month) in found:
        return
    shown = await statement.statement(services.sessions, campaigns, client_id, name, zone, month,
                                      now)  # fmt: skip
    if not shown.counts.get("billed") and not shown.adjustments:
        return  # nothing billed that month: no statement
    view, new = await statement.issue(services.sessions, campaigns, client_id, name, zone, month,
                                      ENGINE, now)  # fmt: skip
    if new:
        log.info("statement of %s for %s issued: EUR %.2f", client_id, month, view.total)


class BillingSchedule(Feature):
    """Runs due_work() when something is due, or when woken (ivr.wake topic "billing")."""

    name = "billing"

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self._job: Job | None = None
        self._woken = asyncio.Event()
        self.next_due: datetime | None = None
        self.last_run: datetime | None = None

    def campaigns(self) -> list[Campaign]:
        found = self.services.campaigns() if self.services.campaigns is not None else None
        return list(found.by_id.values()) if found is not None else []

    async def start(self) -> None:
        self.services.wake.on(WAKE, lambda _payload: self._woken.set())
        # One engine draws and issues (the lease holder); the draw's and the statement's own
        # unique rows would refuse a second engine's anyway.
        self._job = self.services.leases.run(LEASE, self._loop)

    async def close(self) -> None:
        if self._job is not None:
            await self._job.close()

    async def _loop(self) -> None:
        clock = self.services.clock
        while True:
            now = clock()
            try:
                self.next_due = await due_work(self.services, self.campaigns(), now)
            except Exception:
                log.exception("billing: drawing or issuing failed; trying again later")
                self.next_due = now + RETRY
            self.last_run = now
            wait = max(1.0, (self.next_due - clock()).total_seconds())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(wait, LONGEST_SLEEP)):
                    await self._woken.wait()
            self._woken.clear()

    def status(self) -> dict[str, Any]:
        return {
            "next_due": self.next_due.isoformat() if self.next_due else None,
            "last_run": self.last_run.isoformat() if self.last_run else None,
        }
