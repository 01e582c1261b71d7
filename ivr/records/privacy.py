"""The call records' personal data: callers' numbers and names, the raw facts (AMI events
carry them too) and the recorded messages. See ivr.privacy."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.privacy import Cutoffs, Removed, Scope
from ivr.records.models import Call, CallEvent
from ivr.records.recordings import forget


class CallRecordData:
    name = "call records"

    async def linkedids(self, session: AsyncSession, numbers: frozenset[str]) -> set[str]:
        rows = await session.scalars(
            select(Call.linkedid).where(Call.caller_number.in_(sorted(numbers)))
        )
        return set(rows)

    async def erase(
        self,
        session: AsyncSession,
        linkedids: frozenset[str],
        numbers: frozenset[str],
        removed: Removed,
    ) -> None:
        ids = sorted(linkedids)
        paths = list(await session.scalars(select(Call.message_path).where(Call.linkedid.in_(ids))))
        for path in paths:
            removed.file(path)
        removed.add("recordings in the database", await forget(session, [p for p in paths if p]))
        events = await session.execute(delete(CallEvent).where(CallEvent.linkedid.in_(ids)))
        calls = await session.execute(delete(Call).where(Call.linkedid.in_(ids)))
        removed.rows("call records", calls)
        removed.rows("call events", events)

    async def purge(
        self, session: AsyncSession, scope: Scope, cutoffs: Cutoffs, removed: Removed
    ) -> None:
        mine = scope.where(Call.client_id)
        old_recordings = select(Call.linkedid, Call.message_path).where(
            mine, Call.message_path.is_not(None), Call.arrived_at < cutoffs.recordings
        )
        recordings = (await session.execute(old_recordings)).all()
        for _, path in recordings:
            removed.file(path)
        await forget(session, [path for _, path in recordings if path])
        if recordings:
            await session.execute(
                update(Call)
                .where(Call.linkedid.in_([linkedid for linkedid, _ in recordings]))
                .values(message_path=None)
            )
        removed.add("recordings", len(recordings))
        old = select(Call.linkedid).where(mine, Call.arrived_at < cutoffs.numbers)
        events = await session.execute(delete(CallEvent).where(CallEvent.linkedid.in_(old)))
        named = await session.execute(
            update(Call)
            .where(
                mine,
                Call.arrived_at < cutoffs.numbers,
                Call.caller_number.is_not(None) | Call.caller_name.is_not(None),
            )
            .values(caller_number=None, caller_name=None)
        )
        removed.rows("callers' numbers on call records", named)
        removed.rows("call events", events)
