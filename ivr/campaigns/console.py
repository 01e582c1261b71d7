"""The outbound card on the operator console, and the campaigns' supervisor page.

Plugged into the console (ivr/portal) as an extension: it shares the console's logins, and
shows its card in place of the inbound one when the operator's call (or preview) is a
campaign's: the client, the contact's data, the script, and the kind's outcome form. Saving
the outcome ends the wrap-up exactly as the inbound form does.
"""

from __future__ import annotations

import logging
import string
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ivr import bounds
from ivr.campaigns import floor, lists, results, store
from ivr.campaigns.extensions import registered
from ivr.campaigns.model import (
    APPOINTMENT,
    OUTCOMES,
    PREDICTIVE,
    PREVIEW,
    PROGRESSIVE,
    PROMOTION,
    RATIO,
    Campaign,
)
from ivr.campaigns.models import CENTER
from ivr.campaigns.outcomes import OutcomeForm, free_slots, read_outcome, slot_key
from ivr.campaigns.report import progress
from ivr.campaigns.tracking import is_campaign_call
from ivr.dialpolicy import NumberError, normalise
from ivr.i18n import Templates, negotiate, tr
from ivr.portal.auth import SUPERVISOR
from ivr.records import repo

if TYPE_CHECKING:
    from ivr.campaigns.dialer import CampaignDialer
    from ivr.portal.access import Login
    from ivr.portal.board import Live
    from ivr.portal.extension import Console

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
PORTAL_TEMPLATES = HERE.parent / "portal" / "templates"


def outcome_labels(lang: str) -> dict[str, str]:
    return {
        "promise": tr(lang, "Promise to pay"),
        "paid": tr(lang, "Says already paid"),
        "disputes": tr(lang, "Disputes the debt"),
        "wrong-person": tr(lang, "Wrong person"),
        "refuses": tr(lang, "Refuses"),
        "callback": tr(lang, "Call back at"),
        "appointment": tr(lang, "Appointment set"),
        "not-interested": tr(lang, "Not interested"),
        "wrong-number": tr(lang, "Wrong number"),
        "interested": tr(lang, "Interested"),
        "sale": tr(lang, "Sale"),
        "do-not-call": tr(lang, "Do not call again"),
        "verified": tr(lang, "Answered the questions"),
    }


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def script_text(campaign: Campaign, contact: store.ContactRecord, operator: str) -> str:
    """The campaign's script with the contact's data in its {placeholders}."""
    values = _Blank(
        operator=operator, client=campaign.client_name, name=contact.name,
        debtor=contact.debtor or "", amount=f"{contact.amount_due} EUR" if contact.amount_due
        is not None else "", due_date=contact.due_date.strftime("%d/%m/%Y")
        if contact.due_date else "", invoice=contact.invoice or "",
        company=contact.company or "", contact_person=contact.contact_person or "",
        address=contact.address or "",
    )  # fmt: skip
    try:
        return string.Formatter().vformat(campaign.script, (), values)
    except (ValueError, IndexError):
        return campaign.script  # a stray brace: the script as written


class OutboundConsole:
    def __init__(self, dialer: CampaignDialer, portal: Console) -> None:
        self.dialer = dialer
        self.portal = portal
        self.templates = Templates(HERE / "templates", PORTAL_TEMPLATES)

    @property
    def root(self) -> str:
        return self.portal.prefix

    def desk_changed(self, operator: str) -> None:
        self.dialer.wake()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/campaign/outcome", self.save)
        app.router.add_post("/campaign/call", self.call)
        app.router.add_post("/campaign/skip", self.skip)
        app.router.add_post("/campaign/dnc", self.do_not_call)
        app.router.add_post("/campaign/dnc-inbound", self.do_not_call_inbound)
        app.router.add_get("/campaigns", self.supervisor)

    def _lang(self, request: web.Request | None) -> str:
        return negotiate(request.headers.get("Accept-Language") if request else None)

    def _page(self, name: str, lang: str, status: int = 200, **context: Any) -> web.Response:
        text = self.templates.render(name, lang, root=self.root, **context)
        return web.Response(text=text, status=status, content_type="text/html")

    # -- the card ---------------------------------------------------------------------------

    async def panel(
        self, login: Login, live: Live, request: web.Request | None, form: OutcomeForm | None = None
    ) -> str | None:
        held = self.dialer.reserved.get(login.user)
        sessions = self.dialer.services.sessions
        lang = self._lang(request)
        if held is not None and held.linkedid is None:  # a preview card
            campaign = self.dialer.campaign(held.campaign_id)
            contact = await store.get_contact(sessions, held.contact_id)
            if campaign is None or contact is None:
                return None
            return await self._card(login, lang, campaign, contact, None, None, False)
        linkedid = live.on_call or live.ringing or (held.linkedid if held else None)
        linkedid = linkedid or live.last_call
        if form is not None:
            attempt = await store.get_attempt(sessions, form.attempt_id)
        elif linkedid and is_campaign_call(linkedid):
            attempt = await store.attempt_by_linkedid(sessions, linkedid)
        else:
            return None
        if attempt is None or attempt.operator not in (login.user, None):
            return None
        if form is None and attempt.outcome is not None and attempt.ended_at is not None:
            return None  # written down and over: the console waits for the next call
        campaign = self.dialer.campaign(attempt.campaign_id)
        contact = await store.get_contact(sessions, attempt.contact_id)
        if campaign is None or contact is None:
            return None
        # the console's board knows of the answer before this feature has written it down
        connected = attempt.connected_at is not None or attempt.linkedid in (
            live.on_call,
            live.last_call,
        )
        return await self._card(login, lang, campaign, contact, attempt, form, connected)

    async def _card(
        self,
        login: Login,
        lang: str,
        campaign: Campaign,
        contact: store.ContactRecord,
        attempt: store.AttemptRecord | None,
        form: OutcomeForm | None,
        connected: bool,
    ) -> str:
        now = self.dialer.services.clock()
        slots: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
        if campaign.kind == APPOINTMENT and attempt is not None:
            for sid, person in campaign.salespeople.items():
                taken = await results.booked(
                    self.dialer.services.sessions, campaign.client_id, sid, now
                )
                for at in free_slots(person, campaign, now, taken):
                    slots[sid].append((slot_key(sid, at, campaign.zone), at))
        if form is None and attempt is not None:
            form = OutcomeForm(attempt_id=attempt.id, outcome=attempt.outcome or "",
                               notes=attempt.notes or "",
                               raw={"address": contact.address or ""})  # fmt: skip
        labels = outcome_labels(lang)
        extra: dict[str, object] = {"check": None}
        for extension in registered():
            extra |= await extension.card(self.dialer.services.sessions, campaign, contact.id, lang)
        return self.templates.render(
            "card.html", lang, root=self.root, login=login, campaign=campaign, contact=contact,
            attempt=attempt, form=form, script=script_text(campaign, contact, login.user),
            outcomes=[(o, labels[o]) for o in OUTCOMES[campaign.kind]], slots=slots,
            zone=campaign.zone, connected=connected, **extra,
            dnc_added=bool(attempt and await lists.on_do_not_call(
                self.dialer.services.sessions, attempt.number, campaign.client_id)),
        )  # fmt: skip

    # -- the operator's actions ---------------------------------------------------------

    async def save(self, request: web.Request) -> web.Response:
        portal = self.portal
        login = await portal.operator_login(request)
        data = await portal.posted_form(request, login)
        lang = self._lang(request)
        sessions = self.dialer.services.sessions
        now = self.dialer.services.clock()
        attempt_id = bounds.row_id(data.get("attempt", ""))
        attempt = await store.get_attempt(sessions, attempt_id) if attempt_id else None
        campaign = self.dialer.campaign(attempt.campaign_id) if attempt else None
        if attempt is None or campaign is None or attempt.operator != login.user:
            raise web.HTTPForbidden(text=tr(lang, "This call was not answered by you."))
        form = read_outcome(campaign, data, now, lang)
        if attempt.connected_at is None:  # nobody talked to the contact: nothing to record
            form.errors["attempt"] = tr(lang, "This call was not answered: there is no outcome.")
        if form.ok:
            problem = await results.save_outcome(sessions, campaign, form, login.user, now)
            if problem == results.TAKEN:
                form.errors["slot"] = tr(lang, "That time was booked meanwhile: choose another.")
            elif problem is not None:
                raise web.HTTPForbidden(text=tr(lang, "This call was not answered by you."))
        if not form.ok:
            live = portal.board.live(login.user)
            html = await self.panel(login, live, request, form)
            return await portal.console_page(login, request, html or "", status=422)
        await portal.end_wrapup(login.user, attempt.linkedid)
        self.dialer.wake()
        raise web.HTTPSeeOther(f"{self.root}/?saved={attempt.linkedid}")

    async def call(self, request: web.Request) -> web.Response:
        login = await self.portal.operator_login(request)
        await self.portal.posted_form(request, login)
        if not await self.dialer.call_preview(login.user):
            log.info("preview call of %s: nothing to call", login.user)
        raise web.HTTPSeeOther(f"{self.root}/")

    async def do_not_call(self, request: web.Request) -> web.Response:
        """The contact asked not to be called again, on any kind of call: written at once
        (the center's list for a promotion, the client's otherwise), so no later card or dial
        of that number goes out; the operator still saves the call's outcome."""
        login = await self.portal.operator_login(request)
        data = await self.portal.posted_form(request, login)
        lang = self._lang(request)
        sessions = self.dialer.services.sessions
        try:
            attempt = await store.get_attempt(sessions, int(data.get("attempt", "")))
        except ValueError:
            attempt = None
        campaign = self.dialer.campaign(attempt.campaign_id) if attempt else None
        if attempt is None or campaign is None or attempt.operator != login.user:
            raise web.HTTPForbidden(text=tr(lang, "This call was not answered by you."))
        scope = CENTER if campaign.kind == PROMOTION else campaign.client_id
        await lists.add_do_not_call(
            sessions, scope, [attempt.number], "asked not to be called",
            f"campaign {campaign.id}, call {attempt.id}, {login.user}",
            self.dialer.services.clock(),
        )  # fmt: skip
        log.info("%s: do not call %s (%s list)", login.user, attempt.number, scope)
        raise web.HTTPSeeOther(f"{self.root}/")

    # -- inbound calls of a client that runs campaigns ------------------------------------

    def _runs_campaigns(self, client_id: str | None) -> bool:
        return bool(client_id) and any(
            c.client_id == client_id for c in self.dialer.campaigns.by_id.values()
        )

    async def card(self, login: Login, live: Live, call: repo.CallRecord) -> str | None:
        """On an inbound call's card, for a client that runs campaigns: "do not call again"
        (the caller may be one of its contacts), written to the client's list."""
        if not self._runs_campaigns(call.client_id) or not call.caller_number:
            return None
        try:
            number = normalise(call.caller_number)
        except NumberError:
            return None
        listed = await lists.on_do_not_call(
            self.dialer.services.sessions, number, call.client_id or ""
        )
        return self.templates.render(
            "dnc_inbound.html", login.lang, root=self.root, login=login, call=call,
            listed=bool(listed),
        )  # fmt: skip

    async def do_not_call_inbound(self, request: web.Request) -> web.Response:
        login = await self.portal.operator_login(request)
        data = await self.portal.posted_form(request, login)
        lang = self._lang(request)
        services = self.dialer.services
        call = await repo.get_call(services.sessions, data.get("call", ""))
        live = self.portal.board.live(login.user)
        mine = call is not None and (
            call.operator == login.user or call.linkedid in (live.on_call, live.last_call)
        )  # the console knows of the answer before the records are written
        if call is None or not mine or not self._runs_campaigns(call.client_id):
            raise web.HTTPForbidden(text=tr(lang, "This call was not answered by you."))
        try:
            number = normalise(call.caller_number or "")
        except NumberError:
            raise web.HTTPForbidden(text=tr(lang, "This call was not answered by you.")) from None
        await lists.add_do_not_call(
            services.sessions, call.client_id or "", [number], "asked not to be called",
            f"inbound call {call.linkedid}, {login.user}", services.clock(),
        )  # fmt: skip
        log.info("%s: do not call %s (%s list, inbound)", login.user, number, call.client_id)
        raise web.HTTPSeeOther(f"{self.root}/")

    async def skip(self, request: web.Request) -> web.Response:
        login = await self.portal.operator_login(request)
        await self.portal.posted_form(request, login)
        await self.dialer.skip_preview(login.user)
        raise web.HTTPSeeOther(f"{self.root}/")

    # -- the supervisor's page ----------------------------------------------------------

    async def supervisor(self, request: web.Request) -> web.Response:
        login = await self.portal.login_of(request)
        if login is None or login.user != SUPERVISOR:
            raise web.HTTPSeeOther(f"{self.root}/login")
        dialer = self.dialer
        now = dialer.services.clock()
        states = await store.states(dialer.services.sessions)
        working = await self.operators_on_campaigns()
        rows = []
        for campaign in dialer.campaigns.by_id.values():
            state = states.get(campaign.id)
            row = await progress(
                dialer.services.sessions, campaign, state.status if state else "new", now
            )
            row.operators = sorted(working.get(campaign.id, ()))
            rows.append((campaign, row))
        return self._page("campaigns.html", self._lang(request), login=login, rows=rows, now=now)

    # -- the supervisor's page: each campaign's day --------------------------------------------

    async def supervisor_part(self, login: Login) -> str:
        dialer = self.dialer
        await dialer.figures.read(
            dialer.services.sessions, dialer.campaigns.by_id.values(), dialer.services.clock()
        )
        days = dialer.figures.days()
        rows = [(c, days[c.id]) for c in dialer.campaigns.by_id.values() if c.id in days]
        modes = {
            PREVIEW: tr(login.lang, "preview"), PROGRESSIVE: tr(login.lang, "progressive"),
            RATIO: tr(login.lang, "ratio"), PREDICTIVE: tr(login.lang, "predictive"),
        }  # fmt: skip
        cap = f"{floor.ABANDON_CAP * 100:.0f}"
        return self.templates.render(
            "supervisor_campaigns.html", login.lang, root=self.root, rows=rows, modes=modes,
            cap=cap,
        )  # fmt: skip

    def busy_today(self) -> float:
        return self.dialer.figures.busy()

    async def operators_on_campaigns(self) -> dict[str, set[str]]:
        """Campaign id -> operators holding or talking to one of its calls now."""
        out: dict[str, set[str]] = defaultdict(set)
        for operator, held in self.dialer.reserved.items():
            out[held.campaign_id].add(operator)
        for operator, live in self.portal.board.operators.items():
            linkedid = live.on_call or live.ringing
            if linkedid and is_campaign_call(linkedid):
                attempt = await store.attempt_by_linkedid(self.dialer.services.sessions, linkedid)
                if attempt is not None:
                    out[attempt.campaign_id].add(operator)
        return out
