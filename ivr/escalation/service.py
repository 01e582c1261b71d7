"""The engine's escalation scheduler: picks due ladder steps from the database and places
the calls over AMI.

The database is the whole state. Each tick reads the running ladders, asks the pure
next_step() what is due, writes the attempt's row (unique per slot) and only then sends the
Originate; so an engine killed at any point and started again places no call twice. Between
ticks the scheduler sleeps until the next step falls due, or until a new ladder is stored or
a call's outcome arrives (ivr/alarm.py): with no ladder running it sleeps for good. A call
this engine lost sight of (it was placed by an engine that died) is closed once Asterisk no
longer has its channel: every outgoing channel carries its attempt in its account code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ivr import dialpolicy
from ivr import variables as v
from ivr.alarm import run_schedule
from ivr.ami.client import AmiError
from ivr.ami.message import Message
from ivr.escalation import mail, store
from ivr.escalation.ladder import (
    ANSWERED,
    BUSY,
    FAILED,
    NO_ANSWER,
    REFUSED,
    STOPPED,
    UNKNOWN,
    Finished,
    Place,
    Plan,
    Wait,
    next_step,
)
from ivr.escalation.speech import dialable, intro_prompt
from ivr.feature import Feature
from ivr.records import repo
from ivr.selfservice.store import ladder_for

if TYPE_CHECKING:
    from ivr.lease import Job
    from ivr.services import Services

log = logging.getLogger(__name__)

CONTEXT = "ivr-out-escalation"  # dialplan/extensions.conf.j2: the answered contact's call
ACCOUNT_PREFIX = "esc-"
# OriginateResponse Reason codes (Asterisk's enum ast_control_frame_type) -> outcome.
REASONS = {"0": FAILED, "1": NO_ANSWER, "3": NO_ANSWER, "5": BUSY, "8": FAILED}
ANSWER_REASON = "4"
# A refused call ends before Asterisk reads its BUSY (OriginateResponse then says only
# "failed", reason 0): the channel's hang-up cause tells, in a HangupRequest or Hangup event
# that may come before or after the OriginateResponse.
CAUSES = {"17": BUSY, "18": NO_ANSWER, "19": NO_ANSWER}
GRACE = timedelta(seconds=3)  # a channel being set up may not be listed yet
# Events kept for an Originate whose response has not reached _place yet (they race).
EARLY_MAX = 1000
CAUSE_WAIT = timedelta(seconds=2)
RECORD_WAIT = 2.0  # seconds to wait for the call's record before reading it
ALARM = "escalations"  # services.alarms.wake(ALARM): a ladder was stored or a call ended


def account(attempt_id: int) -> str:
    return f"{ACCOUNT_PREFIX}{attempt_id}"


class Escalations(Feature):
    name = "escalations"

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self._awaiting: dict[str, int] = {}  # Originate ActionID -> attempt id
        self._causes: dict[int, str] = {}  # attempt id -> hang-up cause, until its response
        self._early: dict[str, Message] = {}  # ActionID -> OriginateResponse not yet matched
        self._failing: dict[int, datetime] = {}  # failed attempt id -> since, awaiting a cause
        self.started_at = services.clock()
        self.alarm = services.alarms.get(ALARM)
        self._job: Job | None = None

    async def start(self) -> None:
        retry = self.services.settings.escalation_tick
        # The ladders are walked by one engine at a time (the lease holder).
        self._job = self.services.leases.run(
            ALARM, lambda: run_schedule(self.name, self.tick, self.alarm, retry=retry)
        )

    async def close(self) -> None:
        if self._job is not None:
            await self._job.close()

    def wake(self) -> None:
        self.alarm.wake()

    # -- one pass over the running ladders --------------------------------------------------

    async def tick(self) -> float | None:
        """Do what is due; return the seconds until the next look (None: nothing to wait
        for but a wake-up). While calls are out, Asterisk is asked again every
        `escalation_tick` seconds at most."""
        services = self.services
        tick = services.settings.escalation_tick
        delay: float | None = tick if self._failing else None
        unwatched: list[store.AttemptRecord] = []
        to_mail: list[tuple[store.RunRecord, Plan]] = []
        for attempt_id, since in list(self._failing.items()):
            if services.clock() - since > CAUSE_WAIT:  # no cause came: a plain failure
                del self._failing[attempt_id]
                await self._close(attempt_id, FAILED, "originate reason 0")
        for run, attempts in await store.running(services.sessions):
            if any(a.outcome is None for a in attempts):
                delay = min(delay or tick, tick)  # a call is out: its outcome may be lost
            if run.plan is None:
                resolved = await self._resolve(run)
                if resolved is None:
                    continue
                run = resolved
            plan = run.plan
            assert plan is not None
            now = services.clock()
            watched = {*self._awaiting.values(), *self._failing}
            unwatched += [
                a
                for a in attempts
                if a.outcome is None and a.id not in watched and self._lost(a, plan, now)
            ]
            step = next_step(plan, run.started_at, [a.state() for a in attempts], now)
            if isinstance(step, Finished):
                await store.finish_run(services.sessions, run.id, step.result, now)
            elif isinstance(step, Place):
                await self._place(run, step, now)
                delay = min(delay or tick, tick)
            elif isinstance(step, Wait) and step.until is not None:
                until = (step.until - now).total_seconds()
                delay = until if delay is None else min(delay, until)
            if run.mailed_at is None:
                to_mail.append((run, plan))
        if unwatched:
            await self._close_lost(unwatched)
        for run, plan in to_mail:
            await self._mail(run, plan)
        return None if delay is None else max(delay, 0.05)

    async def _resolve(self, run: store.RunRecord) -> store.RunRecord | None:
        """A run started with sessions only: its ladder from the rules in force now."""
        rules = self.services.rules.current
        ladder = rules.ladders.get(run.ladder)
        if ladder is None:
            log.error("escalation %d: no ladder %r in the rules", run.id, run.ladder)
            await store.finish_run(self.services.sessions, run.id, STOPPED, self.services.clock())
            return None
        ladder = await ladder_for(self.services.sessions, run.client_id, ladder)
        client = rules.clients.get(run.client_id) if run.client_id else None
        plan = Plan.of(ladder, client.card.timezone if client else "UTC")
        name = client.card.name if client else None
        await store.set_plan(self.services.sessions, run.id, plan, name)
        return dataclasses.replace(run, plan=plan, client_name=name)

    async def _place(self, run: store.RunRecord, step: Place, now: datetime) -> None:
        services = self.services
        ami = services.ami
        if ami is None or not ami.connected:
            return  # nothing claimed: the step stays due until AMI is back
        contact = step.contact
        rules = services.rules.current
        verdict = dialpolicy.check(rules.dial_policy_for(run.client_id), contact.number)
        if not verdict:
            await self._refuse(run, step, now, verdict.reason)
            return
        if services.outbound.full(pending=len(self._awaiting)):
            return  # nothing claimed: the step stays due until a call out ends
        attempt_id = await store.claim_attempt(
            services.sessions, run.id, step.slot, contact.name, contact.number, now
        )
        if attempt_id is None:
            return  # another engine (or an earlier tick) has this slot
        with contextlib.suppress(Exception):  # a missing voice must not stop the call
            await services.prompts.file_for(intro_prompt(run), "en")
        display = " ".join((run.client_name or run.client_id or "").replace('"', "").split())
        fields = [
            ("Action", "Originate"),
            ("Channel", services.settings.outbound_dial.format(number=verdict.number)),
            ("Context", CONTEXT),
            ("Exten", "s"),
            ("Priority", "1"),
            ("CallerID", f'"Urgent {display}" <{dialable(run.callback)}>'),
            ("Account", account(attempt_id)),
            ("Timeout", str(contact.ring * 1000)),
            ("Async", "true"),
            ("Variable", f"{v.ESCALATION_ATTEMPT}={attempt_id}"),
        ]
        log.info(
            "escalation %d: calling %s (%s), round %d try %d",
            run.id, contact.name, contact.number, step.slot.round + 1, step.slot.try_ + 1,
        )  # fmt: skip
        try:
            response = await ami.send_action(fields)
        except (AmiError, TimeoutError, ValueError) as exc:
            log.warning("escalation %d: originate failed: %r", run.id, exc)
            await store.close_attempt(
                services.sessions, attempt_id, FAILED, services.clock(), f"originate: {exc}"
            )
            return
        if response.action_id:
            self._awaiting[response.action_id] = attempt_id
            early = self._early.pop(response.action_id, None)
            if early is not None:
                await self._originate_response(early)

    async def _refuse(self, run: store.RunRecord, step: Place, now: datetime, reason: str) -> None:
        """The dial policy refuses the contact's number: never dialled, the ladder goes on."""
        sessions = self.services.sessions
        contact = step.contact
        attempt_id = await store.claim_attempt(
            sessions, run.id, step.slot, contact.name, contact.number, now
        )
        if attempt_id is None:
            return
        log.warning(
            "escalation %d: not calling %s (%s): %s", run.id, contact.name, contact.number, reason
        )
        await store.close_attempt(sessions, attempt_id, REFUSED, now, f"not dialled: {reason}")
        self.wake()

    def _lost(self, attempt: store.AttemptRecord, plan: Plan, now: datetime) -> bool:
        """May nobody be waiting for this call's outcome any more?

        One placed by an engine that died, or one this engine placed and that was answered
        long enough ago that the escalation route should have said what happened (a second
        engine's calls are left to that engine until then).
        """
        if attempt.placed_at < self.started_at:
            return True
        ring = plan.contacts[attempt.contact].ring if attempt.contact < len(plan.contacts) else 0
        return now - attempt.placed_at > timedelta(seconds=ring) + GRACE

    async def _close_lost(self, attempts: list[store.AttemptRecord]) -> None:
        """Close calls nobody waits for any more once Asterisk has no channel for them."""
        services = self.services
        ami = services.ami
        now = services.clock()
        call_max = timedelta(seconds=services.settings.escalation_call_max)
        live: set[str] | None = None
        if ami is not None and ami.connected:
            try:
                channels = await ami.send_action_list({"Action": "CoreShowChannels"})
                live = {c.get("AccountCode", "") for c in channels}
            except (AmiError, TimeoutError) as exc:
                log.warning("escalation: cannot list channels: %r", exc)
        for attempt in attempts:
            if now - attempt.placed_at < GRACE:
                continue
            gone = live is not None and account(attempt.id) not in live
            if gone or now - attempt.placed_at > call_max:
                outcome = ANSWERED if attempt.answered_at else UNKNOWN
                detail = "the engine lost sight of this call" if outcome == UNKNOWN else None
                if await store.close_attempt(services.sessions, attempt.id, outcome, now, detail):
                    log.info("escalation attempt %d closed as %s", attempt.id, outcome)

    async def _mail(self, run: store.RunRecord, plan: Plan) -> None:
        result = await mail.announce(self.services.settings, run, plan)
        await store.note_mail(self.services.sessions, run.id, self.services.clock(), result)

    # -- AMI events -------------------------------------------------------------------------

    async def on_event(self, event: Message) -> None:
        if event.event == "OriginateResponse":
            await self._originate_response(event)
        elif event.event in {"HangupRequest", "Hangup"} and event.get("AccountCode", "").startswith(
            ACCOUNT_PREFIX
        ):
            await self._hangup(event)
        elif event.event == "UserEvent" and event.get("UserEvent") == "IvrMessage":
            await self._message_left(event)

    async def _originate_response(self, event: Message) -> None:
        action_id = event.action_id or ""
        attempt_id = self._awaiting.pop(action_id, None)
        if attempt_id is None:
            if action_id and len(self._early) < EARLY_MAX:
                self._early[action_id] = event  # _place has not seen its response yet
            return
        reason = event.get("Reason", "")
        cause = self._causes.pop(attempt_id, "")
        if reason == ANSWER_REASON:
            return  # answered: the escalation route records the outcome
        if reason == "0" and not cause:
            self._failing[attempt_id] = self.services.clock()  # its cause may follow
            return
        outcome = CAUSES.get(cause, FAILED) if reason == "0" else REASONS.get(reason, FAILED)
        detail = f"originate reason {reason}" + (f", cause {cause}" if cause else "")
        await self._close(attempt_id, outcome, detail)

    async def _close(self, attempt_id: int, outcome: str, detail: str) -> None:
        services = self.services
        await store.close_attempt(services.sessions, attempt_id, outcome, services.clock(), detail)
        self.wake()

    async def _hangup(self, event: Message) -> None:
        number = event.get("AccountCode", "")[len(ACCOUNT_PREFIX) :]
        if not number.isdigit():
            return
        attempt_id = int(number)
        cause = event.get("Cause", "")
        if attempt_id in self._failing:
            del self._failing[attempt_id]
            await self._close(
                attempt_id, CAUSES.get(cause, FAILED), f"originate reason 0, cause {cause}"
            )
            return
        if len(self._causes) >= EARLY_MAX:
            self._causes.pop(next(iter(self._causes)))
        self._causes[attempt_id] = cause

    async def _message_left(self, event: Message) -> None:
        """The IVR's emergency option: the caller's message is recorded, start the ladder.

        Only for a call this engine routed, and a ladder its client's rules offer: a caller
        number carrying line breaks can forge whole AMI events (tests/faults/test_sip.py).
        """
        ladder = event.get("Escalate", "")
        linkedid = event.get("Linkedid", "")
        if not ladder or not linkedid:
            return
        records = getattr(self.services, "records", None)
        if records is not None and records.healthy:
            await records.flush(RECORD_WAIT)  # the events before this one, on record
        record = await repo.get_call(self.services.sessions, linkedid)
        rules = self.services.rules.current
        if record is None or ladder not in rules.ladders_of(record.client_id):
            log.warning(
                "call %s: ignoring a message event for ladder %r that no routed call offers",
                linkedid[:64],
                ladder[:64],
            )
            return
        try:
            await store.start_escalation(
                self.services,
                linkedid=linkedid,
                client_id=record.client_id,
                ladder=ladder,
                message_path=event.get("Path") or None,
                caller_name=record.caller_name,
                callback=record.caller_number,
                caller_number=record.caller_number,
            )
        except KeyError as exc:
            log.error("call %s: cannot escalate: %s", linkedid, exc)
            return
        except store.EscalationRefused:
            return  # stored with its reason, and logged
        self.wake()
