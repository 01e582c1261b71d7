"""The operators' tables' personal data: the messages they took (outcomes: the caller's
name, callback number and message) and the callers' numbers in queue events."""

from __future__ import annotations

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.portal.models import CallOutcome, QueueEvent
from ivr.privacy import Cutoffs, Removed, Scope
from ivr.records.models import Call


class OperatorData:
    name = "operators' outcomes and queue events"

    async def linkedids(self, session: AsyncSession, numbers: frozenset[str]) -> set[str]:
        given = sorted(numbers)
        outcomes = await session.scalars(
            select(CallOutcome.linkedid).where(CallOutcome.callback.in_(given))
        )
        queued = await session.scalars(
            select(QueueEvent.linkedid).where(
                QueueEvent.caller_number.in_(given), QueueEvent.linkedid.is_not(None)
            )
        )
        return {*outcomes, *(q for q in queued if q)}

    async def erase(
        self,
        session: AsyncSession,
        linkedids: frozenset[str],
        numbers: frozenset[str],
        removed: Removed,
    ) -> None:
        ids, given = sorted(linkedids), sorted(numbers)
        outcomes = await session.execute(
            delete(CallOutcome).where(
                or_(CallOutcome.linkedid.in_(ids), CallOutcome.callback.in_(given))
            )
        )
        queued = await session.execute(
            delete(QueueEvent).where(
                or_(QueueEvent.linkedid.in_(ids), QueueEvent.caller_number.in_(given))
            )
        )
        removed.rows("messages (outcomes)", outcomes)
        removed.rows("queue events", queued)

    async def purge(
        self, session: AsyncSession, scope: Scope, cutoffs: Cutoffs, removed: Removed
    ) -> None:
        mine = scope.where(CallOutcome.client_id)
        messages = await session.execute(
            delete(CallOutcome).where(mine, CallOutcome.saved_at < cutoffs.messages)
        )
        removed.rows("messages (outcomes)", messages)
        blanked = await session.execute(
            update(CallOutcome)
            .where(mine, CallOutcome.saved_at < cutoffs.numbers, CallOutcome.callback != "")
            .values(callback="", caller_name="")
        )
        removed.rows("callback numbers on messages", blanked)
        # A queue event knows its call, not its client: the call's client decides.
        calls = select(Call.linkedid).where(scope.where(Call.client_id))
        queued = await session.execute(
            update(QueueEvent)
            .where(
                QueueEvent.linkedid.in_(calls),
                QueueEvent.at < cutoffs.numbers,
                QueueEvent.caller_number.is_not(None),
            )
            .values(caller_number=None)
        )
        removed.rows("callers' numbers on queue events", queued)
