"""How the dialer follows its calls and its operators: AMI events into rows (any engine may
complete any call), the operators it holds released when their call is over, and the
housekeeping that closes the calls nobody saw end."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ivr.ami.client import AmiError
from ivr.ami.message import Message
from ivr.campaigns import activity, store
from ivr.campaigns import eligibility as el
from ivr.campaigns.model import UNKNOWN, UNREACHABLE, Campaign
from ivr.campaigns.tracking import Waiting, ended_outcome, endpoint_of, is_campaign_call

if TYPE_CHECKING:
    from ivr.portal.extension import Console
    from ivr.services import Services

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 5.0  # heartbeat, previews of dead engines, calls nobody follows
ENGINE_STALE = timedelta(seconds=30)
LOST_GRACE = timedelta(seconds=10)  # a call this young may not be listed by Asterisk yet
# An attempt Asterisk never made a call for, whose engine is alive, is left to that engine
# (it may be rendering a voice) for this long; whose engine is dead, it goes back to the list.
UNPLACED_LIMIT = timedelta(minutes=2)
ORIGINATE_FAILED_WAIT = 2.0  # its Hangup, with the real cause, may still come
# The queue pause of an operator held for a call says which: "outbound:<linkedid>" or
# "outbound:preview-<contact>"; a hold whose call or card is over is released by any engine
# (the one that held it may have died).
HOLD = "outbound:"
PREVIEW_PREFIX = "preview-"


@dataclass
class Reservation:
    """An operator this engine holds for one call (or one preview card)."""

    campaign_id: str
    contact_id: int
    linkedid: str | None  # None while a preview card waits for the operator
    since: datetime


class Follower:
    """The part of the dialer that listens (mixed into CampaignDialer)."""

    services: Services
    portal: Console | None
    engine_id: str
    reserved: dict[str, Reservation]
    waiting: Waiting
    _actions: dict[str, str]
    _gone: dict[str, datetime]
    _placed: dict[str, datetime]
    _watch_from: datetime | None

    def wake(self) -> None:
        raise NotImplementedError

    def campaign(self, campaign_id: str) -> Campaign | None:
        raise NotImplementedError

    async def unreserve(self, operator: str) -> None:
        raise NotImplementedError

    # -- what happens to the calls --------------------------------------------------------

    async def on_events(self, events: Any) -> None:
        woken = False
        for event in events:
            try:
                woken = await self._on_event(event) or woken
            except Exception:
                log.exception("campaigns: handling AMI %s failed", event.event)
        if woken:
            self.wake()

    async def _on_event(self, event: Message) -> bool:
        name = event.event
        if self.waiting.apply(event, self.services.clock().timestamp()):
            return True
        linkedid = event.get("Linkedid", "")
        sessions = self.services.sessions
        stamp = self._stamp(event)
        if name == "UserEvent" and is_campaign_call(linkedid):
            kind = event.get("UserEvent", "")
            if kind == "CampaignAnswered":
                await store.note(sessions, linkedid, answered_at=stamp)
            elif kind == "CampaignAmd":
                amd = f"{event.get('Status', '')}/{event.get('Cause', '')}".strip("/")
                await store.note(sessions, linkedid, answered_at=stamp, amd=amd[:32])
            elif kind == "CampaignDrop":
                await store.note(sessions, linkedid, dropped_at=stamp)
                log.warning("campaign call %s dropped: no operator free", linkedid)
            return False
        made = name == "Newchannel" and event.get("Uniqueid") == linkedid
        if made and is_campaign_call(linkedid):
            self._placed[linkedid] = stamp  # whichever engine placed it
            return False
        if name == "DialEnd" and is_campaign_call(linkedid):
            if event.get("DialStatus", "").upper() == "ANSWER":
                await self._connected(linkedid, event.get("DestChannel", ""), stamp)
            return True
        if name == "Hangup" and is_campaign_call(linkedid) and event.get("Uniqueid") == linkedid:
            await self._ended(linkedid, event.get("Cause", ""))
            return True
        if name == "OriginateResponse" and event.get("Response") == "Failure":
            failed = self._actions.pop(event.action_id or "", None)
            if failed is not None:  # its Hangup (with the cause) normally closes it first
                asyncio.get_running_loop().call_later(
                    ORIGINATE_FAILED_WAIT, self._spawn_close, failed,
                    f"originate failed, reason {event.get('Reason', '')}",
                )  # fmt: skip
            return False
        if name == "OriginateResponse":
            self._actions.pop(event.action_id or "", None)
        return name in ("DialEnd", "Hangup", "QueueMemberPause", "DialBegin")

    def _stamp(self, event: Message) -> datetime:
        return self.services.clock()

    async def _connected(self, linkedid: str, channel: str, at: datetime) -> None:
        endpoint = endpoint_of(channel)
        rules = self.services.rules.current
        operator = next((o.id for o in rules.operators.values() if o.endpoint == endpoint), None)
        if operator is None:
            return
        await store.note(self.services.sessions, linkedid, connected_at=at, operator=operator)
        held = self.reserved.get(operator)
        if held is not None and held.linkedid == linkedid:
            del self.reserved[operator]  # the console's wrap-up holds the operator from now on
        log.info("campaign call %s connected to %s", linkedid, operator)

    async def _ended(self, linkedid: str, cause: str) -> None:
        attempt = await store.attempt_by_linkedid(self.services.sessions, linkedid)
        if attempt is None or attempt.ended_at is not None:
            return
        outcome = ended_outcome(cause, attempt.answered_at is not None, attempt.amd)
        await self._close(linkedid, outcome, f"cause {cause}" if cause else None)

    def _spawn_close(self, linkedid: str, detail: str) -> None:
        task = asyncio.get_running_loop().create_task(self._close(linkedid, UNREACHABLE, detail))
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def _close(self, linkedid: str, outcome: str, detail: str | None) -> None:
        settings = self.services.settings
        closed = await store.close_attempt(
            self.services.sessions, self.campaign, linkedid, outcome, self.services.clock(),
            detail, settings.campaign_drop_rest_days,
        )  # fmt: skip
        if closed is not None:
            log.info("campaign call %s ended: %s", linkedid, closed.system_outcome)
        for operator, held in list(self.reserved.items()):
            if held.linkedid == linkedid:
                await self.unreserve(operator)
        self.wake()

    async def on_ami_connected(self) -> None:
        """Callers waiting now, as app_queue lists them (the events missed while away)."""
        ami = self.services.ami
        if ami is None:
            return
        self._watch_from = self.services.clock()  # calls made before may have gone unseen
        listed = await self._queue_status()
        if listed is None:
            return
        self.waiting.reset([dict(e.items()) for e in listed if e.event == "QueueEntry"])
        await self._release_stale_holds(_holds(listed))
        self.wake()

    async def _queue_status(self) -> list[Message] | None:
        ami = self.services.ami
        if ami is None:
            return None
        try:
            return await ami.send_action_list([("Action", "QueueStatus")])
        except (AmiError, TimeoutError) as exc:
            log.warning("campaigns: QueueStatus failed: %s", exc)
            return None

    async def _release_stale_holds(self, holds: dict[str, str]) -> None:
        """Operators paused for a call (or card) that is over, by an engine that is gone."""
        sessions = self.services.sessions
        for operator, reason in holds.items():
            if not reason.startswith(HOLD) or operator in self.reserved:
                continue
            what = reason[len(HOLD) :]
            if what.startswith(PREVIEW_PREFIX):
                found = await store.get_contact(sessions, int(what[len(PREVIEW_PREFIX) :] or 0))
                over = found is None or found.status != el.PREVIEWING
            else:
                attempt = await store.attempt_by_linkedid(sessions, what)
                over = attempt is None or attempt.ended_at is not None
            if over and self.portal is not None:  # the hold was ours: undo it whoever asks
                log.info("%s was held for %s, which is over: released", operator, what)
                live = self.portal.board.operators.get(operator)
                if live is not None:
                    live.wants_available = True
                if live is None or not (live.wrap_up or live.on_call):
                    await self.portal.pause(operator, False, "")
                self.wake()

    # -- housekeeping ---------------------------------------------------------------------

    async def housekeeping(self) -> None:
        """Heartbeat; previews held by dead engines go back; calls nobody saw end are closed
        once Asterisk has no channel for them (twice, a few seconds apart)."""
        services = self.services
        now = services.clock()
        await activity.heartbeat(services.sessions, self.engine_id, now)
        await activity.release_dead_previews(services.sessions, now, ENGINE_STALE)
        board = self.portal.board.operators if self.portal is not None else {}
        if any(live.paused and op not in self.reserved for op, live in board.items()):
            listed = await self._queue_status()  # the reasons: the board may not know them
            if listed is not None:
                await self._release_stale_holds(_holds(listed))
        ami = services.ami
        if ami is None or not ami.connected:
            return
        opened = await store.open_attempts(services.sessions)
        still = {a.linkedid for a in opened}
        for linkedid in [k for k in self._placed if k not in still]:
            del self._placed[linkedid]
        old = [
            a for a in opened
            if now - a.placed_at > LOST_GRACE and services.settings.own_call(a.linkedid)
        ]  # fmt: skip
        if not old:
            self._gone.clear()
            return
        try:
            channels = await ami.send_action_list({"Action": "CoreShowChannels"})
        except (AmiError, TimeoutError) as exc:
            log.warning("campaigns: cannot list channels: %r", exc)
            return
        live = {c.get("Linkedid", "") for c in channels} | {c.get("Uniqueid", "") for c in channels}
        alive: set[str] | None = None
        for attempt in old:
            if attempt.linkedid in live:
                self._gone.pop(attempt.linkedid, None)
                continue
            if self._never_placed(attempt):
                if alive is None:
                    alive = await activity.alive_engines(services.sessions, now, ENGINE_STALE)
                if attempt.engine not in alive:
                    if await activity.release_unplaced(services.sessions, attempt.linkedid):
                        log.warning(
                            "campaign call %s: its engine %s died before placing it; the"
                            " contact goes back to the list", attempt.linkedid, attempt.engine,
                        )  # fmt: skip
                        self.wake()
                    continue
                if now - attempt.placed_at < UNPLACED_LIMIT:
                    continue
            first = self._gone.setdefault(attempt.linkedid, now)
            if now - first >= timedelta(seconds=HOUSEKEEPING_SECONDS - 0.5):
                self._gone.pop(attempt.linkedid, None)
                outcome = (
                    UNKNOWN if attempt.answered_at is None else ended_outcome("", True, attempt.amd)
                )
                await self._close(attempt.linkedid, outcome, "the engine lost sight of this call")

    def _never_placed(self, attempt: store.AttemptRecord) -> bool:
        """Asterisk made no channel for it while this engine saw every event."""
        watching = self._watch_from
        return (
            attempt.linkedid not in self._placed
            and watching is not None
            and watching <= attempt.placed_at
        )


def _holds(listed: list[Message]) -> dict[str, str]:
    """Operator -> pause reason, of the paused members QueueStatus listed."""
    return {
        e.get("Name") or e.get("MemberName") or "": e.get("PausedReason", "")
        for e in listed
        if e.event == "QueueMember" and e.get("Paused") == "1"
    }
