"""The client area's personal data: a client's note on a caller's message
(area_message_state), the notices telling its users of a message (area_notices), and the
outbox rows of those notices. area_calls (what the area searches) is the database's own copy
of the calls, kept by triggers: a call erased or purged changes it in the same transaction.
See ivr.privacy."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.area.models import MessageState, Notice
from ivr.privacy import Cutoffs, Removed, Scope
from ivr.records.models import Call
from ivr.records.outbox import OutboxRow

OUTBOX_KINDS = ("message", "urgent")  # ivr.records.outbox.add_message's keys: <linkedid>|<kind>


class AreaData:
    name = "client area: notes, notices, outbox"

    async def linkedids(self, session: AsyncSession, numbers: frozenset[str]) -> set[str]:
        return set()  # it keeps no number of its own: the calls name it

    async def erase(
        self,
        session: AsyncSession,
        linkedids: frozenset[str],
        numbers: frozenset[str],
        removed: Removed,
    ) -> None:
        ids = sorted(linkedids)
        states = await session.execute(delete(MessageState).where(MessageState.linkedid.in_(ids)))
        notices = await session.execute(delete(Notice).where(Notice.linkedid.in_(ids)))
        keys = [f"{linkedid}|{kind}" for linkedid in ids for kind in OUTBOX_KINDS]
        queued = await session.execute(delete(OutboxRow).where(OutboxRow.key.in_(keys)))
        removed.rows("area notes and read states", states)
        removed.rows("area notices", notices)
        removed.rows("outbox rows", queued)

    async def purge(
        self, session: AsyncSession, scope: Scope, cutoffs: Cutoffs, removed: Removed
    ) -> None:
        """Past the messages' retention: the client's notes on them and the notices of them
        go; outbox rows about them go too (an email still owed for a message that is gone
        has nothing left to tell)."""
        calls = select(Call.linkedid).where(
            scope.where(Call.client_id), Call.arrived_at < cutoffs.messages
        )
        notes = await session.execute(
            update(MessageState)
            .where(MessageState.linkedid.in_(calls), MessageState.note.is_not(None))
            .values(note=None)
        )
        notices = await session.execute(delete(Notice).where(Notice.linkedid.in_(calls)))
        queued = await session.execute(
            delete(OutboxRow).where(
                scope.where(OutboxRow.client_id), OutboxRow.created_at < cutoffs.messages
            )
        )
        removed.rows("area notes", notes)
        removed.rows("area notices", notices)
        removed.rows("outbox rows", queued)
