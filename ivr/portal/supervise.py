"""The supervisor's page: callers waiting per queue, each operator's state as Asterisk and the
console know it (a phone that is not registered is offline), today's figures from the stored
queue events, and what the perimeter refused lately. A mixin of Portal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web
from markupsafe import Markup

from ivr.i18n import tr
from ivr.portal import occupancy, store
from ivr.portal.auth import SUPERVISOR
from ivr.portal.extension import SupervisorExtension

if TYPE_CHECKING:
    from ivr.portal.board import Board
    from ivr.portal.extension import ConsoleExtension
    from ivr.portal.occupancy import Tally
    from ivr.routing.model import Rules
    from ivr.services import Services


class SupervisorPage:
    services: Services
    board: Board
    _render: Callable[..., web.Response]
    _redirect: Callable[[str], web.HTTPSeeOther]
    login_of: Callable[..., Any]
    _now: Callable[[], datetime]
    tally: Tally
    look: Callable[[], None]
    extensions: list[ConsoleExtension]

    @property
    def rules(self) -> Rules:
        raise NotImplementedError

    async def sync_pauses(self) -> None:
        raise NotImplementedError

    async def sync_devices(self) -> None:
        raise NotImplementedError

    async def supervisor(self, request: web.Request) -> web.Response:
        login = await self.login_of(request)
        if login is None or login.user != SUPERVISOR:
            raise self._redirect("/login")
        now = self._now()
        since = now.replace(hour=0, minute=0, second=0, microsecond=0)
        figures = await store.figures(self.services.sessions, since)
        facts = await store.queue_facts(self.services.sessions, since)
        per_queue = occupancy.per_queue(facts, store.ANSWERED_WITHIN)
        await self.sync_pauses()
        await self.sync_devices()
        self.look()
        lives = [self.board.live(op) for op in self.rules.operators]
        operators = [
            {**live.view(), "since_at": live.since,
             "occupancy": self.tally.today[live.operator].occupancy
             if live.operator in self.tally.today else None}
            for live in lives
        ]  # fmt: skip
        queues = {group: figures.waiting.get(group, 0) for group in self.rules.groups}
        # The features' sections (each campaign's day) after the look, so that their share of
        # the busy time is counted to the same second as the whole.
        parts = [Markup(await e.supervisor_part(login)) for e in self._supervised()]
        overall = self.tally.overall()
        split = occupancy.Split.of(overall, self.claimed_busy())
        refused = await self._refused(now - timedelta(days=1), login.lang)
        return self._render(
            "supervisor.html",
            lang=login.lang,
            login=login,
            figures=figures,
            operators=operators,
            queues=queues,
            per_queue=[per_queue.get(group) or occupancy.QueueDay(group) for group in queues],
            occupancy=overall.occupancy,
            split=split,
            parts=parts,
            within=store.ANSWERED_WITHIN,
            now=now,
            refused=refused,
        )

    def _supervised(self) -> list[SupervisorExtension]:
        return [e for e in self.extensions if isinstance(e, SupervisorExtension)]

    def claimed_busy(self) -> float:
        """Today's busy seconds the features claim as theirs (outbound calls)."""
        return sum(e.busy_today() for e in self._supervised())

    async def _refused(self, since: datetime, lang: str) -> list[dict[str, Any]]:
        """What the perimeter refused lately: ladders (rate limits, withheld callers) and
        contacts' numbers the dial policy would not dial, newest first."""
        from ivr.escalation import store as escalation

        sessions = self.services.sessions
        rows = [
            {"at": r.started_at, "client": r.client_name or r.client_id or "-",
             "what": tr(lang, "ladder %(ladder)s for %(caller)s", ladder=r.ladder,
                        caller=r.caller_number or tr(lang, "a withheld caller")),
             "reason": r.reason or ""}
            for r in await escalation.refused_since(sessions, since)
        ] + [
            {"at": a.placed_at, "client": a.linkedid,
             "what": tr(lang, "call to %(name)s (%(number)s)", name=a.contact_name,
                        number=a.number), "reason": a.detail or ""}
            for a in await escalation.refused_attempts_since(sessions, since)
        ]  # fmt: skip
        return sorted(rows, key=lambda row: row["at"], reverse=True)
