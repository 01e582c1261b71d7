"""The escalations' personal data: who called and their number on each ladder, and the
speech file that reads them out to the contacts (ivr.prompts caches it by its text)."""

from __future__ import annotations

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.escalation.models import EscalationAttempt, EscalationRun
from ivr.escalation.speech import intro_prompt
from ivr.escalation.store import RunRecord
from ivr.privacy import Cutoffs, Removed, Scope
from ivr.prompts import cached_name

# The language escalation calls speak (agi_scripts/escalation.py).
SPOKEN = "en"


def _speech(run: EscalationRun, removed: Removed) -> None:
    """The intro prompt of this run: its text holds the caller's name and number."""
    removed.file(f"prompts/{cached_name(intro_prompt(RunRecord.of(run)), SPOKEN)}.wav")


class EscalationData:
    name = "escalations"

    async def linkedids(self, session: AsyncSession, numbers: frozenset[str]) -> set[str]:
        given = sorted(numbers)
        rows = await session.scalars(
            select(EscalationRun.linkedid).where(
                or_(EscalationRun.callback.in_(given), EscalationRun.caller_number.in_(given))
            )
        )
        return set(rows)

    async def erase(
        self,
        session: AsyncSession,
        linkedids: frozenset[str],
        numbers: frozenset[str],
        removed: Removed,
    ) -> None:
        given = sorted(numbers)
        runs = (
            await session.scalars(
                select(EscalationRun).where(
                    or_(
                        EscalationRun.linkedid.in_(sorted(linkedids)),
                        EscalationRun.callback.in_(given),
                        EscalationRun.caller_number.in_(given),
                    )
                )
            )
        ).all()
        for run in runs:
            _speech(run, removed)
            removed.file(run.message_path)
        ids = [run.id for run in runs]
        attempts = await session.execute(
            delete(EscalationAttempt).where(EscalationAttempt.run_id.in_(ids))
        )
        await session.execute(delete(EscalationRun).where(EscalationRun.id.in_(ids)))
        removed.add("escalations", len(ids))
        removed.rows("escalation calls", attempts)

    async def purge(
        self, session: AsyncSession, scope: Scope, cutoffs: Cutoffs, removed: Removed
    ) -> None:
        mine = scope.where(EscalationRun.client_id)
        runs = (
            await session.scalars(
                select(EscalationRun).where(
                    mine,
                    EscalationRun.started_at < cutoffs.numbers,
                    or_(
                        EscalationRun.callback.is_not(None),
                        EscalationRun.caller_name.is_not(None),
                        EscalationRun.caller_number.is_not(None),
                    ),
                )
            )
        ).all()
        for run in runs:
            _speech(run, removed)
        if runs:
            await session.execute(
                update(EscalationRun)
                .where(EscalationRun.id.in_([run.id for run in runs]))
                .values(callback=None, caller_name=None, caller_number=None)
            )
        removed.add("callers' numbers on escalations", len(runs))
        old = await session.execute(
            update(EscalationRun)
            .where(
                mine,
                EscalationRun.started_at < cutoffs.recordings,
                EscalationRun.message_path.is_not(None),
            )
            .values(message_path=None)
        )
        removed.rows("recordings named by escalations", old)
