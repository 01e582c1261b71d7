"""Holding callers and putting them through to the client's people, with Asterisk's own
channel redirection and bridging (AMI Redirect, Bridge, Originate, and a FastAGI route on the
person's leg).

Why these and not Atxfer/BlindTransfer: an attended transfer (Atxfer) connects the operator
to the person and completes only when the operator hangs up, so the person would decide by
talking, not by a key the engine can record, and "declined" would need the operator to press
the transfer-abort key on their phone. Instead:

- hold: Redirect moves the caller to [ivr-in-hold] (music) and, in the same action
  (ExtraChannel), the operator's leg to [ivr-hold-operator]: both channels stay up, out of
  their bridge. Resume: Setvar IVR_RESUMED on the caller, then Bridge the two again.
- announced (warm): hold, then Originate the person's numbers in order (the dial policy and
  the cap on calls out apply to each). The answered leg runs the `putthrough` route, which
  says who is calling and why (text-to-speech, the client's language) and reads 1 or 2.
  1: the person's leg bridges with the caller (Bridge() in the dialplan) and the engine hangs
  up the operator's leg: the operator is free. 2, no key, no answer on any number: Bridge the
  operator and the caller again (the music stops) and the operator takes a message.
- direct (blind): Redirect the caller alone to [ivr-in-direct]: the `putthrough_direct` route
  plans the person's first number, then the queue the call came from at the highest priority,
  then a message, run by the same dialplan as every arriving call; the operator's leg ends
  with the redirect and the operator is free at once.
- the rules' `put_through` steps are forward steps of the arriving call's own chain.

Every attempt is a row (ivr.putthrough.store) written when it starts and closed once with
its outcome and how long the caller held. Direct and rules attempts are closed from the
caller's DialEnd towards the trunk.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ivr import variables as v
from ivr.ami.client import AmiError
from ivr.dialpolicy import NumberError, normalise
from ivr.feature import Feature
from ivr.putthrough import store
from ivr.putthrough.models import (
    ACCEPTED,
    ANNOUNCED,
    DIRECT,
    FAILED,
    HUNG_UP,
    LOST,
    NO_ANSWER,
    REFUSED,
    RULES,
)
from ivr.records import repo
from ivr.records.facts import INBOUND_CONTEXT_PREFIX, ORIGINATED_PREFIX

if TYPE_CHECKING:
    from ivr.ami.message import Message
    from ivr.portal.extension import Console
    from ivr.routing.model import Client, Person
    from ivr.services import Services

log = logging.getLogger(__name__)

CALLER_HOLD = "ivr-in-hold"
OPERATOR_HOLD = "ivr-hold-operator"
DIRECT_CONTEXT = "ivr-in-direct"
PERSON_CONTEXT = "ivr-out-putthrough"
ANSWERED = "4"  # OriginateResponse Reason: the called party answered
RECORD_WAIT = 2.0
EARLY_MAX = 200


@dataclass
class Transfer:
    """An announced attempt in progress: the caller on hold, the person's numbers rung."""

    attempt_id: int
    linkedid: str
    operator: str
    client: Client
    person: Person
    numbers: list[str]  # as dialled (E.164), in order
    caller: str  # the caller's channel
    leg: str | None  # the operator's channel, on hold
    held_at: float  # time.monotonic(): a hold is a duration, whatever the wall clock does
    who: str  # who is calling, as the operator wrote it
    why: str
    caller_number: str
    index: int = 0  # numbers rung so far
    person_channel: str | None = None
    refused: list[str] = field(default_factory=list)

    @property
    def language(self) -> str:
        return self.client.card.language


@dataclass
class Hold:
    linkedid: str
    caller: str
    leg: str


class PutThroughs(Feature):
    name = "put_through"

    def __init__(self, services: Services, portal: Console) -> None:
        super().__init__(services)
        self.portal = portal
        self.active: dict[int, Transfer] = {}
        self.holds: dict[str, Hold] = {}  # operator -> the call on hold
        self._awaiting: dict[str, int] = {}  # Originate ActionID -> attempt id
        self._early: dict[str, Message] = {}
        self._dialling: dict[str, tuple[int, float]] = {}  # DestUniqueid -> (attempt, since)
        self._direct: dict[str, int] = {}  # linkedid -> its direct attempt, until dialled
        from ivr.putthrough.console import ConsoleExtension

        # Its routes are the console's from the start: the app is built after every feature.
        portal.extend(ConsoleExtension(self))

    async def start(self) -> None:
        self.services.put_through = self
        # Attempts an engine that stopped left open: their callers went back to an operator
        # (the hold's own limit) long ago.
        limit = self.services.settings.hold_max_seconds
        now = self.services.clock()
        for attempt in await store.unfinished(
            self.services.sessions, now - timedelta(seconds=limit)
        ):
            await store.finish(self.services.sessions, attempt.id, LOST, now,
                               detail="the engine stopped during the attempt")  # fmt: skip

    def status(self) -> dict[str, int]:
        return {"active": len(self.active), "on_hold": len(self.holds)}

    # -- Asterisk actions -------------------------------------------------------------------

    async def _action(self, fields: list[tuple[str, str]]) -> str | None:
        """Send one action; None, or what went wrong."""
        ami = self.services.ami
        if ami is None or not ami.connected:
            return "no AMI connection"
        try:
            await ami.send_action(fields)
        except (AmiError, TimeoutError, ValueError) as exc:
            log.warning("AMI %s failed: %s", fields[0][1], exc)
            return str(exc) or type(exc).__name__
        return None

    async def _hold_both(self, caller: str, leg: str) -> str | None:
        return await self._action([
            ("Action", "Redirect"), ("Channel", caller), ("Context", CALLER_HOLD),
            ("Exten", "s"), ("Priority", "1"), ("ExtraChannel", leg),
            ("ExtraContext", OPERATOR_HOLD), ("ExtraExten", "s"), ("ExtraPriority", "1"),
        ])  # fmt: skip

    async def _bridge_back(self, caller: str, leg: str | None) -> str | None:
        """The caller out of the music, bridged with the operator's leg again."""
        if not leg:
            return "the operator's phone hung up"
        error = await self._action(
            [("Action", "Setvar"), ("Channel", caller), ("Variable", v.RESUMED), ("Value", "1")]
        )
        return error or await self._action(
            [("Action", "Bridge"), ("Channel1", leg), ("Channel2", caller), ("Tone", "no")]
        )

    async def _hang_up(self, channel: str | None) -> None:
        if channel:
            await self._action([("Action", "Hangup"), ("Channel", channel), ("Cause", "16")])

    async def _requeue(self, attempt_id: int, caller: str) -> None:
        """The operator is gone: the caller back to the queue, first in line."""
        error = await self._action([
            ("Action", "Redirect"), ("Channel", caller), ("Context", DIRECT_CONTEXT),
            ("Exten", str(attempt_id)), ("Priority", "1"),
        ])  # fmt: skip
        if error:
            log.error("attempt %d: the caller could not be sent back to the queue: %s",
                      attempt_id, error)  # fmt: skip

    # -- what the console asks -------------------------------------------------------------

    async def _current(self, operator: str) -> tuple[repo.CallRecord, str] | str:
        """The operator's call and their own leg in it, or a problem code."""
        live = self.portal.board.live(operator)
        linkedid = live.on_call
        if not linkedid:
            return "no-call"
        call = await repo.get_call(self.services.sessions, linkedid)
        leg = self.portal.board.channel_of(operator, linkedid)
        if call is None or not call.channel or leg is None:
            return "no-call"
        if any(t.linkedid == linkedid for t in self.active.values()):
            return "busy"
        return call, leg

    async def hold(self, operator: str) -> str | None:
        found = await self._current(operator)
        if isinstance(found, str):
            return found
        call, leg = found
        if operator in self.holds:
            return None
        assert call.channel is not None
        if await self._hold_both(call.channel, leg):
            return "asterisk"
        self.holds[operator] = Hold(call.linkedid, call.channel, leg)
        self._tell(operator, held=True)
        return None

    async def resume(self, operator: str) -> str | None:
        hold = self.holds.pop(operator, None)
        if hold is None:
            return "not-held"
        if await self._bridge_back(hold.caller, hold.leg):
            self.holds[operator] = hold
            return "asterisk"
        self._tell(operator, held=False)
        return None

    async def put_through(
        self, operator: str, person_id: str, mode: str, who: str = "", why: str = ""
    ) -> str | None:
        """Put the operator's call through to a person of its client; a problem code or None."""
        found = await self._current(operator)
        if isinstance(found, str):
            return found
        call, leg = found
        assert call.channel is not None
        rules = self.services.rules.current
        client = rules.clients.get(call.client_id or "")
        person = client.people.get(person_id) if client else None
        if client is None or person is None:
            return "no-person"
        numbers, refused = [], []
        for number in person.numbers:
            verdict = self.services.outbound.may_dial(rules, client.id, number)
            if verdict:
                numbers.append(verdict.number)
            else:
                refused.append(f"{number}: {verdict.reason}")
        now = self.services.clock()
        sessions = self.services.sessions
        attempt = await store.start(
            sessions, linkedid=call.linkedid, client_id=client.id, operator=operator,
            person_id=person.id, person_name=person.name, mode=mode, at=now,
            number=numbers[0] if numbers else (person.numbers[0] if person.numbers else None),
        )  # fmt: skip
        if not numbers:
            await store.finish(sessions, attempt, REFUSED, now, detail="; ".join(refused))
            return "refused"
        holding = self.holds.pop(operator, None)  # already on hold: the legs are where needed
        if mode == DIRECT:
            self._direct[call.linkedid] = attempt
            error = await self._action([
                ("Action", "Redirect"), ("Channel", call.channel), ("Context", DIRECT_CONTEXT),
                ("Exten", str(attempt)), ("Priority", "1"),
            ])  # fmt: skip
            if error:
                self._direct.pop(call.linkedid, None)
                await store.finish(sessions, attempt, FAILED, now, detail=error)
                return "asterisk"
            # The operator's leg would stay up, alone in the queue's bridge: end it, so the
            # operator is free for the next caller at once.
            await self._hang_up(holding.leg if holding is not None else leg)
            log.info("call %s put through directly to %s by %s", call.linkedid, person.id, operator)
            await self.portal.end_wrapup(operator, call.linkedid)  # the operator is free
            return None
        transfer = Transfer(
            attempt, call.linkedid, operator, client, person, numbers, call.channel, leg,
            time.monotonic(),
            who or call.caller_name or "", why, call.caller_number or "", refused=refused,
        )  # fmt: skip
        if holding is None and await self._hold_both(call.channel, leg):
            await store.finish(sessions, attempt, FAILED, now, detail="the hold failed")
            return "asterisk"
        self.active[attempt] = transfer
        self._tell(operator, putting_through=person.name)
        log.info(
            "call %s: %s puts it through to %s (announced)", call.linkedid, operator, person.id
        )
        await self._ring_next(transfer)
        return None

    def _tell(self, operator: str, *, held: bool | None = None, putting_through: str = "") -> None:
        live = self.portal.board.live(operator)
        if held is not None:
            live.held = held
        live.putting_through = putting_through
        self.portal.board.tell(operator, {"kind": "put-through", **live.view()})

    # -- an announced attempt, number by number ---------------------------------------------

    async def _ring_next(self, t: Transfer) -> None:
        if t.index >= len(t.numbers):
            await self.back(t, NO_ANSWER, f"no answer on {len(t.numbers)} number(s)")
            return
        number = t.numbers[t.index]
        t.index += 1
        if t.index > 1:
            await store.ringing(self.services.sessions, t.attempt_id, number)
        ami = self.services.ami
        client = t.client.card.name.replace('"', "")
        digits = "".join(c for c in t.caller_number if c.isascii() and c.isdigit())
        fields = [
            ("Action", "Originate"),
            ("Channel", self.services.settings.outbound_dial.format(number=number)),
            ("Context", PERSON_CONTEXT), ("Exten", "s"), ("Priority", "1"),
            ("CallerID", f'"{client}" <{digits}>'),
            # No account code: the caller, once bridged with this leg, would inherit it and
            # its hang-up would no longer close the call's record. A unique id of our own
            # tells the records this channel is no caller's.
            ("ChannelId", f"{ORIGINATED_PREFIX}pt-{t.attempt_id}-{t.index}"),
            ("Timeout", str(t.person.ring * 1000)),
            ("Async", "true"),
            ("Variable", f"{v.PUT_THROUGH}={t.attempt_id}"),
        ]  # fmt: skip
        try:
            if ami is None:
                raise AmiError("no AMI connection")
            response = await ami.send_action(fields)
        except (AmiError, TimeoutError, ValueError) as exc:
            log.warning("attempt %d: originate to %s failed: %r", t.attempt_id, number, exc)
            await self._ring_next(t)
            return
        if response.action_id:
            self._awaiting[response.action_id] = t.attempt_id
            early = self._early.pop(response.action_id, None)
            if early is not None:
                await self._originated(early)

    async def _originated(self, event: Message) -> None:
        action_id = event.action_id or ""
        attempt_id = self._awaiting.pop(action_id, None)
        if attempt_id is None:
            if action_id:  # perhaps ours, its Originate's response not read yet
                if len(self._early) >= EARLY_MAX:
                    self._early.pop(next(iter(self._early)))
                self._early[action_id] = event
            return
        t = self.active.get(attempt_id)
        if t is None:
            return
        if event.get("Reason") == ANSWERED:
            t.person_channel = event.get("Channel") or t.person_channel
            return  # the putthrough route speaks to the person now
        await self._ring_next(t)

    def transfer(self, attempt_id: int) -> Transfer | None:
        return self.active.get(attempt_id)

    async def answered(self, t: Transfer, channel: str) -> None:
        t.person_channel = channel or t.person_channel
        await store.answered(self.services.sessions, t.attempt_id, self.services.clock())

    async def accept(self, t: Transfer) -> str | None:
        """The person took the call: the caller's channel to bridge with, or None if the
        attempt is over (the caller hung up meanwhile)."""
        if self.active.pop(t.attempt_id, None) is None:
            return None
        now = self.services.clock()
        error = await self._action(
            [("Action", "Setvar"), ("Channel", t.caller), ("Variable", v.RESUMED), ("Value", "1")]
        )
        if error:
            log.warning("attempt %d: %s", t.attempt_id, error)
        held = time.monotonic() - t.held_at
        await store.finish(self.services.sessions, t.attempt_id, ACCEPTED, now, held_seconds=held)
        self._tell(t.operator)
        await self.portal.end_wrapup(t.operator, t.linkedid)  # free: the call is theirs now
        await self._hang_up(t.leg)
        log.info("call %s put through to %s after %.1f s", t.linkedid, t.person.id, held)
        return t.caller

    async def back(self, t: Transfer, outcome: str, detail: str = "") -> None:
        """Not put through: the operator and the caller together again."""
        if self.active.pop(t.attempt_id, None) is None:
            return
        now = self.services.clock()
        held = time.monotonic() - t.held_at
        error = await self._bridge_back(t.caller, t.leg)
        if error:
            await self._requeue(t.attempt_id, t.caller)
            detail = f"{detail}; back to the queue: {error}".strip("; ")
        await store.finish(
            self.services.sessions, t.attempt_id, outcome, now, held_seconds=held,
            detail=detail or None,
        )  # fmt: skip
        self._tell(t.operator)
        log.info("call %s not put through to %s: %s", t.linkedid, t.person.id, outcome)

    # -- AMI events -------------------------------------------------------------------------

    async def on_event(self, event: Message) -> None:
        name = event.event
        if name == "OriginateResponse":
            await self._originated(event)
        elif name == "Hangup":
            await self._hangup(event)
        elif name == "DialBegin" and self._caller_dials_out(event):
            await self._dial_begin(event)
        elif name == "DialEnd" and event.get("DestUniqueid", "") in self._dialling:
            await self._dial_end(event)

    async def _hangup(self, event: Message) -> None:
        channel = event.get("Channel", "")
        for operator, hold in list(self.holds.items()):
            if channel in (hold.caller, hold.leg):
                del self.holds[operator]
                await self._hang_up(hold.leg if channel == hold.caller else hold.caller)
                self._tell(operator, held=False)
        for t in list(self.active.values()):
            if channel == t.leg:
                t.leg = None  # the operator hung up: a declined call goes back to the queue
            elif channel == t.caller:
                self.active.pop(t.attempt_id, None)
                now = self.services.clock()
                await store.finish(
                    self.services.sessions, t.attempt_id, HUNG_UP, now,
                    held_seconds=time.monotonic() - t.held_at,
                )  # fmt: skip
                await self._hang_up(t.person_channel)
                await self._hang_up(t.leg)

    def _caller_dials_out(self, event: Message) -> bool:
        """A caller's own channel (in our inbound contexts) rings a number through the trunk."""
        linkedid = event.get("Linkedid", "")
        return (
            bool(linkedid)
            and event.get("Uniqueid") == linkedid
            and event.get("Context", "").startswith(INBOUND_CONTEXT_PREFIX)
            and event.get("DestChannel", "").startswith(self.services.outbound.prefix)
        )

    async def _dial_begin(self, event: Message) -> None:
        linkedid = event.get("Linkedid", "")
        dest = event.get("DestUniqueid", "")
        number = event.get("DialString", "").partition("@")[0]
        now = self.services.clock()
        attempt = self._direct.pop(linkedid, None)
        if attempt is None:
            attempt = await self._rules_attempt(linkedid, dest, number, now)
        if attempt is not None and dest:
            self._dialling[dest] = (attempt, time.monotonic())

    async def _rules_attempt(
        self, linkedid: str, dest: str, number: str, now: datetime
    ) -> int | None:
        """The rules ring a number of one of the client's people: an attempt of its own."""
        records = self.services.records
        if records is not None and records.healthy:
            await records.flush(RECORD_WAIT)  # the call's record names its client
        call = await repo.get_call(self.services.sessions, linkedid)
        client = self.services.rules.current.clients.get(call.client_id or "") if call else None
        if client is None:
            return None
        for person in client.people.values():
            for raw in person.numbers:
                try:
                    same = normalise(raw) == number
                except NumberError:
                    same = False
                if same:
                    return await store.start(
                        self.services.sessions, linkedid=linkedid, client_id=client.id,
                        operator=None, person_id=person.id, person_name=person.name, mode=RULES,
                        at=now, number=number, key=f"rules|{linkedid}|{dest}",
                    )  # fmt: skip
        return None

    async def _dial_end(self, event: Message) -> None:
        attempt, since = self._dialling.pop(event.get("DestUniqueid", ""))
        status = event.get("DialStatus", "").upper()
        now = self.services.clock()
        held = time.monotonic() - since
        sessions = self.services.sessions
        if status == "ANSWER":
            await store.answered(sessions, attempt, now)
            await store.finish(sessions, attempt, ACCEPTED, now, held_seconds=held)
        elif status == "CANCEL":
            await store.finish(sessions, attempt, HUNG_UP, now, held_seconds=held)
        else:
            await store.finish(
                sessions, attempt, NO_ANSWER, now, held_seconds=held, detail=status.lower()
            )


__all__ = ["ANNOUNCED", "DIRECT", "PutThroughs", "Transfer"]
