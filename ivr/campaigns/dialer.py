"""The engine's outbound dialer: picks free operators and due contacts, places the calls over
AMI, and follows them to their outcome.

The database is the state that matters: an attempt's row is written before its Originate and
every fact about the call (answered, machine, connected, dropped, ended) is written from the
AMI events, which every engine sharing the Asterisk sees; so any engine may complete any call,
and one killed mid-campaign dials nobody twice when started again. What lives only here is
which operator this engine has reserved for a call or a preview card.

The loop sleeps until the next contact is due, a window opens, or something wakes it: an
operator freed, a call ended, an inbound caller came or went, a command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aiohttp import web

from ivr import variables as v
from ivr.ami.client import AmiError
from ivr.asterisk.account import shared_folder
from ivr.campaigns import activity, dialcheck, floor, pacing, predict, speech, store
from ivr.campaigns import eligibility as el
from ivr.campaigns.figures import CampaignFigures
from ivr.campaigns.follow import HOLD, HOUSEKEEPING_SECONDS, PREVIEW_PREFIX, Follower, Reservation
from ivr.campaigns.load import files_digest, load_campaigns, settings_wider
from ivr.campaigns.model import (
    AHEAD,
    DIALER_WAKE,
    PREVIEW,
    RATIO,
    UNKNOWN,
    VERIFICATION,
    Campaign,
    Campaigns,
)
from ivr.campaigns.tracking import Waiting, is_campaign_call
from ivr.config import ConfigError
from ivr.feature import Feature
from ivr.routing.source import RulesError

if TYPE_CHECKING:
    from ivr.portal.extension import Console
    from ivr.services import Services

log = logging.getLogger(__name__)

CONTEXT = "ivr-out-campaign"  # dialplan/extensions.conf.j2
LONGEST_SLEEP = 600.0


class CampaignDialer(Follower, Feature):
    name = "campaigns"

    def __init__(self, services: Services, portal: Console | None = None) -> None:
        super().__init__(services)
        self.portal = portal
        self.engine_id = f"{services.settings.instance}-{os.getpid()}-{secrets.token_hex(3)}"
        self.campaigns = Campaigns()
        self.load_error: str | None = None
        self._loaded_key: tuple[str, str] | None = None
        self.reserved: dict[str, Reservation] = {}
        self.waiting = Waiting()
        self._actions: dict[str, str] = {}  # Originate ActionID -> linkedid
        self._files: dict[str, str] = {}  # prompt name -> file as Asterisk sees it
        self._answered_seen: dict[str, int] = {}
        self._gone: dict[str, datetime] = {}  # linkedid -> first seen without a channel
        self._placed: dict[str, datetime] = {}  # open calls Asterisk made (their Newchannel)
        self._watch_from: datetime | None = None  # since when this engine sees every event
        self._rotation = 0
        self._handle = pacing.PRIOR_CALL_SECONDS  # an outbound call's talk and wrap-up, lately
        self.figures = CampaignFigures(services.settings.campaign_drop_cap)
        self.figures.tally = portal.tally if portal is not None else None
        services.metrics.registry.register(self.figures)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.last_step: datetime | None = None
        if portal is not None:
            from ivr.campaigns.console import OutboundConsole

            portal.extend(OutboundConsole(self, portal))

    # -- life -----------------------------------------------------------------------------

    async def start(self) -> None:
        wider = settings_wider(self.services.settings)
        if wider:  # the law is a floor: a setting may narrow it, never widen it
            raise ConfigError("; ".join(wider))
        self.reload()
        self.services.campaigns = lambda: self.campaigns
        self.services.wake.on(DIALER_WAKE, lambda _payload: self.wake())
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._loop(), name="campaign-dialer"),
            loop.create_task(self._housekeeping(), name="campaign-housekeeping"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)

    def wake(self) -> None:
        self._wake.set()

    def reload(self) -> None:
        """Load the campaign files again when they or the rules changed; a broken file keeps
        the campaigns in force (and says why in `ivr status`)."""
        settings = self.services.settings
        key = (self.services.rules.digest, files_digest(settings.rules))
        if key == self._loaded_key:
            return
        self._loaded_key = key
        try:
            self.campaigns = load_campaigns(settings.rules, self.services.rules.current, settings)
            self.load_error = None
            log.info("campaigns loaded: %s", ", ".join(self.campaigns.by_id) or "none")
        except RulesError as exc:
            self.load_error = str(exc)
            log.error("campaign files rejected, keeping the running campaigns:\n%s", exc)

    def campaign(self, campaign_id: str) -> Campaign | None:
        return self.campaigns.get(campaign_id)

    async def _loop(self) -> None:
        while True:
            try:
                delay = await self.step()
            except Exception:
                log.exception("campaign dialer step failed")
                delay = 5.0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            self._wake.clear()

    async def _housekeeping(self) -> None:
        while True:
            try:
                await self.housekeeping()
                await self.figures.read(
                    self.services.sessions, self.campaigns.by_id.values(), self.services.clock()
                )
            except Exception:
                log.exception("campaign housekeeping failed")
            await asyncio.sleep(HOUSEKEEPING_SECONDS)

    # -- one pass -------------------------------------------------------------------------

    def free_operators(self) -> list[str]:
        """Operators at the console, available, held for nothing, with no inbound caller
        waiting in any queue they serve (inbound always first)."""
        if self.portal is None:
            return []
        rules = self.services.rules.current
        free = []
        for op in rules.operators:
            live = self.portal.board.operators.get(op)
            if live is None or live.sessions <= 0 or live.state != "available":
                continue
            if op in self.reserved:
                continue
            queues = [g.id for g in rules.groups.values() if op in g.members]
            if any(self.waiting.count(q) for q in queues):
                continue
            free.append(op)
        return free

    async def step(self) -> float:
        """Place what is due; return the seconds until the next thing is due."""
        services = self.services
        self.reload()
        now = services.clock()
        self.last_step = now
        ami = services.ami
        if ami is None or not ami.connected:
            return 2.0
        states = await store.states(services.sessions)
        due: list[datetime] = []
        running = []
        for campaign in self.campaigns.by_id.values():
            state = states.get(campaign.id)
            if state is None or state.status != store.RUNNING:
                continue
            opens = await self._closed_until(campaign, now)
            if opens is not None:
                due.append(opens)
                continue
            running.append(campaign)
        for operator, held in list(self.reserved.items()):  # cards of a paused campaign
            state = states.get(held.campaign_id)
            if held.linkedid is None and (state is None or state.status != store.RUNNING):
                await self.skip_preview(operator)
        due += await self._expire_previews(now)
        free = self.free_operators()
        keep = self.keep_for_inbound(now)
        if keep:  # the forecast's inbound callers find an operator within the service level
            inbound = set(self._inbound_members())
            kept = [op for op in free if op in inbound][:keep]
            free = [op for op in free if op not in kept]
        taken: set[str] = set()
        if running:
            self._rotation = (self._rotation + 1) % len(running)
        for campaign in running[self._rotation :] + running[: self._rotation]:
            ops = [op for op in free if op in campaign.operators and op not in taken]
            if not ops and campaign.mode not in AHEAD:  # these also dial for the soon free
                continue
            placed = await self._work(campaign, ops, states, now)
            taken.update(ops if campaign.mode in AHEAD else placed)
            if len(placed) < len(ops) or campaign.mode in AHEAD:
                # A verification call due now but left waits for an operator other than the
                # one who booked: a freed operator wakes the dialer, no need to look sooner.
                after = now if campaign.kind == VERIFICATION else None
                nxt = await activity.next_due(services.sessions, [campaign.id], after)
                if nxt is not None:
                    due.append(max(nxt, now + timedelta(seconds=0.5)))
        if not due:
            return LONGEST_SLEEP
        return min(LONGEST_SLEEP, max(0.05, (min(due) - services.clock()).total_seconds()))

    async def _closed_until(self, campaign: Campaign, now: datetime) -> datetime | None:
        """When a running campaign may call again, if it may not now (dates, window)."""
        zone = ZoneInfo(campaign.zone)
        today = now.astimezone(zone).date()
        sessions = self.services.sessions
        if not campaign.runs_on(today):
            await dialcheck.note_refusal(
                sessions, campaign.id, el.DATES,
                f"the campaign runs {campaign.start or '...'} to {campaign.end or '...'}",
                now, key=f"{el.DATES}|{today.isoformat()}",
            )  # fmt: skip
            if campaign.start is not None and today < campaign.start:
                return datetime.combine(campaign.start, datetime.min.time(), zone)
            return now + timedelta(hours=12)
        if campaign.window.is_open(now, campaign.zone, campaign.holidays):
            return None
        opens = campaign.window.next_open(now, campaign.zone, campaign.holidays)
        when = opens.astimezone(zone).strftime("%a %Y-%m-%d %H:%M") if opens else "never"
        local = now.astimezone(zone).strftime("%a %Y-%m-%d %H:%M")
        await dialcheck.note_refusal(
            sessions, campaign.id, el.WINDOW,
            f"outside the calling window at {local} ({campaign.zone}): nothing is dialled"
            f" until {when}",
            now, key=f"{el.WINDOW}|{when}",
        )  # fmt: skip
        return opens or now + timedelta(days=1)

    async def _work(
        self, campaign: Campaign, ops: list[str], states: dict[str, Any], now: datetime
    ) -> list[str]:
        """Claim and call (or preview) for these free operators; the operators used."""
        services = self.services
        settings = services.settings
        policy = services.rules.current.dial_policy_for(campaign.client_id)
        wanted: list[str | None] = list(ops)
        if campaign.mode in AHEAD:
            today = await activity.today(
                services.sessions, campaign, now, self.engine_id, predict.WINDOW
            )
            day = pacing.Day(
                today.placed, today.answered, today.dropped, today.answer_seconds,
                today.calls, today.call_seconds + today.calls * settings.wrapup_seconds / 2,
                today.lengths, today.wraps, today.delays, today.ringing,
            )  # fmt: skip
            self._handle = day.call_length
            ratio = await self._ratio(campaign, day, states) if campaign.mode == RATIO else 0.0
            soon: tuple[float, ...] = ()
            moments: tuple[predict.Moment, ...] = ()
            if campaign.mode == RATIO:
                soon = self._soon(campaign, day, now)
            else:
                moments = predict.moments(
                    day, [(now - placed).total_seconds() for placed in today.ringing_since],
                    lambda within: self._soon(campaign, day, now, within),
                    self.waiting.forecast.rate(now.timestamp()), settings.campaign_drop_wait,
                )  # fmt: skip
            lines = predict.plan(
                campaign.mode, len(ops), soon, today.ringing, today.waiting, ratio, day,
                predict.Recent(today.recent_answered, today.recent_dropped),
                settings.campaign_drop_cap, campaign.max_ratio, campaign.amd, moments,
            )  # fmt: skip
            log.debug(
                "campaign %s: %d lines (free %d, ringing %d, waiting %d, recent %d/%d)",
                campaign.id, lines, len(ops), today.ringing, today.waiting,
                today.recent_dropped, today.recent_answered,
            )  # fmt: skip
            wanted = [None] * lines
        claimed = await store.claim(
            services.sessions, campaign, engine=self.engine_id, now=now, operators=wanted,
            policy=policy, register_max_days=settings.campaign_register_max_days,
            recording_dir=str(settings.run_dir / "recordings"),
            own_customers_days=settings.own_customers_days,
            rest_days=settings.campaign_drop_rest_days, free_operators=len(ops),
        )  # fmt: skip
        used = []
        for item in claimed:
            if item.operator is not None:
                used.append(item.operator)
            if campaign.mode == PREVIEW:
                assert item.operator is not None
                await self._offer_preview(campaign, item.contact, item.operator, now)
            else:
                assert item.attempt is not None
                await self.call(campaign, item.attempt, item.operator)
        return used

    def _inbound_members(self) -> list[str]:
        rules = self.services.rules.current
        return [op for op in rules.operators if any(op in g.members for g in rules.groups.values())]

    def keep_for_inbound(self, now: datetime) -> int:
        """Operators to keep free for the inbound callers forecast from the latest minutes
        (predict.reserve): none while inbound is quiet."""
        rate = self.waiting.forecast.rate(now.timestamp())
        if self.portal is None or rate <= 0:
            return 0
        inbound_busy = outbound_busy = 0
        for op in self._inbound_members():
            live = self.portal.board.operators.get(op)
            if live is None or live.sessions <= 0:
                continue
            call = live.on_call or (live.last_call if live.state == "wrap-up" else None)
            if op in self.reserved or (call and is_campaign_call(call)):
                outbound_busy += 1
            elif live.state in ("on call", "on hold", "putting through", "wrap-up"):
                inbound_busy += 1
        handle_in = self.waiting.inbound_handle(self.services.settings.wrapup_seconds)
        nu = predict.freeing(inbound_busy, outbound_busy, handle_in, self._handle)
        return predict.reserve(rate, nu, inbound_busy, handle_in)

    def _soon(
        self, campaign: Campaign, day: pacing.Day, now: datetime, within: float | None = None
    ) -> tuple[float, ...]:
        """Each of the campaign's operators at the console who is talking or writing up a
        call: the chance of being free for an answer `within` seconds from now (by default
        when a line placed now is answered)."""
        if self.portal is None:
            return ()
        settings = self.services.settings
        inbound = pacing.of_inbound(day, tuple(self.waiting.talks))
        out = []
        for op in campaign.operators:
            live = self.portal.board.operators.get(op)
            if live is None or live.sessions <= 0 or op in self.reserved:
                continue
            elapsed = (self.services.clock() - live.since).total_seconds()  # the board's time
            if live.state not in ("wrap-up", "on call"):
                continue
            wrapping = live.state == "wrap-up"
            call = live.last_call if wrapping else live.on_call
            out.append(pacing.chance_operator_free(
                day, inbound, is_campaign_call(call or ""), wrapping, elapsed,
                settings.wrapup_seconds, settings.campaign_drop_wait, within,
            ))  # fmt: skip
        return tuple(out)

    async def _ratio(self, campaign: Campaign, day: pacing.Day, states: dict[str, Any]) -> float:
        state = states.get(campaign.id)
        current = state.ratio if state is not None and state.ratio else campaign.ratio
        if self._answered_seen.get(campaign.id) == day.answered:
            return float(current)
        self._answered_seen[campaign.id] = day.answered
        new = pacing.adapt(float(current), day, self.services.settings.campaign_drop_cap,
                           campaign.max_ratio)  # fmt: skip
        if new != current:
            await store.set_ratio(self.services.sessions, campaign.id, new)
            log.info("campaign %s: %.2f lines per free operator (drop rate %.3f)",
                     campaign.id, new, day.drop_rate)  # fmt: skip
        return new

    # -- placing a call -------------------------------------------------------------------

    async def _prompt_file(self, prompt: Any, language: str) -> str:
        if prompt.id not in self._files:
            self._files[prompt.id] = await self.services.prompts.file_for(prompt, language)
        return self._files[prompt.id]

    async def call(
        self, campaign: Campaign, attempt: store.AttemptRecord, operator: str | None
    ) -> bool:
        """Originate the call of an attempt already written; the operator (if any) is held
        for it and hears the contact as soon as the contact answers."""
        services = self.services
        settings = services.settings
        ami = services.ami
        rules = services.rules.current
        if operator is not None:
            self.reserved[operator] = Reservation(
                campaign.id, attempt.contact_id, attempt.linkedid, services.clock()
            )
            if self.portal is not None:
                await self.portal.pause(operator, True, f"{HOLD}{attempt.linkedid}")
        try:
            drop = await self._prompt_file(speech.drop_prompt(campaign), campaign.language)
        except Exception as exc:  # a missing voice must not stop the call
            log.warning("campaign %s: drop message unavailable: %s", campaign.id, exc)
            drop = "beep"
        announce_file = ""
        announce = speech.announcement_prompt(campaign)
        if announce is not None:
            try:
                announce_file = await self._prompt_file(announce, campaign.language)
            except Exception as exc:
                log.warning("campaign %s: recording notice unavailable, the call is not"
                            " recorded: %s", campaign.id, exc)  # fmt: skip
        record = attempt.recording_path if announce_file else ""  # no notice, no recording
        if record:
            shared_folder(settings.host_path(settings.run_dir / "recordings" / campaign.id))
        endpoint = rules.operators[operator].endpoint if operator else ""
        name = " ".join(campaign.client_name.replace('"', "").split())
        fields = [
            ("Action", "Originate"),
            ("Channel", settings.outbound_dial.format(number=attempt.number)),
            ("Context", CONTEXT),
            ("Exten", "s"),
            ("Priority", "1"),
            ("CallerID", f'"{name}" <{campaign.caller_id}>'),
            ("Account", store.account(attempt.id)),
            ("ChannelId", attempt.linkedid),
            ("Timeout", str(campaign.ring * 1000)),
            ("Async", "true"),
            ("Variable", f"{v.CAMPAIGN_ATTEMPT}={attempt.id}"),
            ("Variable", f"{v.CAMPAIGN_AMD}={'1' if campaign.amd else ''}"),
            # The operator's desk phone and browser phone: whichever is registered rings.
            ("Variable", f"{v.CAMPAIGN_OPERATOR}={v.dial_string([endpoint]) if endpoint else ''}"),
            ("Variable", f"{v.CAMPAIGN_QUEUE}={campaign.queue}"),
            ("Variable", f"{v.CAMPAIGN_WAIT}={settings.campaign_drop_wait}"),
            ("Variable", f"{v.CAMPAIGN_SILENCE_MS}={floor.ANSWER_BUDGET_MS}"),
            ("Variable", f"{v.CAMPAIGN_DROP_FILE}={drop}"),
            ("Variable", f"{v.CAMPAIGN_ANNOUNCE}={announce_file}"),
            ("Variable", f"{v.CAMPAIGN_RECORD}={record or ''}"),
        ]
        log.info(
            "campaign %s: calling %s (contact %d, try %d)%s",
            campaign.id, attempt.number, attempt.contact_id, attempt.seq,
            f" for {operator}" if operator else "",
        )  # fmt: skip
        try:
            if ami is None:
                raise AmiError("no AMI connection")
            response = await ami.send_action(fields)
        except (AmiError, TimeoutError, ValueError) as exc:
            log.warning("campaign %s: originate failed: %r", campaign.id, exc)
            await self._close(attempt.linkedid, UNKNOWN, f"originate: {exc}")
            return False
        if response.action_id:
            self._actions[response.action_id] = attempt.linkedid
        return True

    async def _offer_preview(
        self, campaign: Campaign, contact: store.ContactRecord, operator: str, now: datetime
    ) -> None:
        self.reserved[operator] = Reservation(campaign.id, contact.id, None, now)
        if self.portal is not None:
            await self.portal.pause(operator, True, f"{HOLD}{PREVIEW_PREFIX}{contact.id}")
            self.portal.board.tell(
                operator, {"kind": "preview", "linkedid": f"preview-{contact.id}",
                           "state": "preview"},
            )  # fmt: skip
        log.info("campaign %s: contact %d shown to %s", campaign.id, contact.id, operator)

    async def call_preview(self, operator: str) -> bool:
        """The operator pressed call on the preview card."""
        held = self.reserved.get(operator)
        campaign = self.campaign(held.campaign_id) if held else None
        if held is None or campaign is None or held.linkedid is not None:
            return False
        attempt = await store.start_preview_call(
            self.services.sessions, campaign, held.contact_id, engine=self.engine_id,
            operator=operator, now=self.services.clock(), rules=self.dial_rules(campaign),
            recording_dir=str(self.services.settings.run_dir / "recordings"),
        )  # fmt: skip
        if not isinstance(attempt, store.AttemptRecord):
            if attempt is not None:
                log.info("campaign %s: preview card of contact %d not dialled: %s",
                         campaign.id, held.contact_id, attempt.detail)  # fmt: skip
            await self.unreserve(operator)
            return False
        return await self.call(campaign, attempt, operator)

    def dial_rules(self, campaign: Campaign) -> dialcheck.Rules:
        settings = self.services.settings
        return dialcheck.Rules(
            self.services.rules.current.dial_policy_for(campaign.client_id),
            settings.campaign_register_max_days, settings.own_customers_days,
            settings.campaign_drop_rest_days,
        )  # fmt: skip

    async def skip_preview(self, operator: str) -> bool:
        held = self.reserved.get(operator)
        if held is None or held.linkedid is not None:
            return False
        await store.release(self.services.sessions, held.contact_id, el.PREVIEWING)
        await self.unreserve(operator)
        return True

    async def _expire_previews(self, now: datetime) -> list[datetime]:
        """Cards shown longer than the campaign's preview_seconds are dialled by themselves."""
        due = []
        for operator, held in list(self.reserved.items()):
            campaign = self.campaign(held.campaign_id)
            if held.linkedid is not None or campaign is None or not campaign.preview_seconds:
                continue
            at = held.since + timedelta(seconds=campaign.preview_seconds)
            if at <= now:
                await self.call_preview(operator)
            else:
                due.append(at)
        return due

    async def unreserve(self, operator: str) -> None:
        """Give the operator back: available again if that is what they chose."""
        self.reserved.pop(operator, None)
        portal = self.portal
        if portal is None:
            return
        live = portal.board.operators.get(operator)
        if live is not None and live.wants_available and not live.wrap_up and not live.on_call:
            await portal.pause(operator, False, "")
        self.wake()

    # -- control and status ----------------------------------------------------------------

    def control_apps(self) -> dict[str, web.Application]:
        app = web.Application()

        async def wake(request: web.Request) -> web.Response:
            self.wake()
            return web.json_response({"ok": True})

        app.router.add_post("/wake", wake)
        return {"/campaigns": app}

    def status(self) -> dict[str, Any] | None:
        return {
            "engine": self.engine_id,
            "loaded": sorted(self.campaigns.by_id),
            "load_error": self.load_error,
            "reserved": {
                op: {"campaign": r.campaign_id, "contact": r.contact_id, "call": r.linkedid}
                for op, r in self.reserved.items()
            },
            "waiting": {q: len(c) for q, c in self.waiting.callers.items() if c},
            "last_step": self.last_step.isoformat() if self.last_step else None,
        }
