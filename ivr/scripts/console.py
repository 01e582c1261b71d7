"""The script on the operator's card: the step shown with what to say and its fields, checked
as the operator types (the browser's own constraints) and again when the step is sent; the
branch the answers take; at the end the message kept with its fields, and the put-through or
the ladder the end asks for.

Plugged into the console (ivr/portal) as an extension, like the put-through card: it shares
the console's logins and CSRF guard. A client without a script keeps the plain message form.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from markupsafe import Markup

from ivr.i18n import Templates, tr
from ivr.portal import store as outcomes
from ivr.records import fields, repo
from ivr.records.outbox import WAKE as OUTBOX
from ivr.routing.script import End, Script
from ivr.routing.scriptspec import ON_CALL
from ivr.scripts import run, texts

if TYPE_CHECKING:
    from ivr.portal.access import Login
    from ivr.portal.board import Live
    from ivr.scripts.feature import ScriptDesk

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
HISTORY = 5
DRAFTS_MAX = 2000  # calls whose scripts are being gone through, across every operator
INPUT_TYPES = {
    "phone": "tel",
    "email": "email",
    "date-time": "datetime-local",
    "number": "text",
    "text": "text",
    "address": "text",
}
# Put-through: how the caller is put through at a script's end (the operator announces them).
ANNOUNCED = "announced"
PutThrough = Callable[..., Awaitable[str | None]]


def type_labels(lang: str) -> dict[str, str]:
    return {"yes": tr(lang, "yes"), "no": tr(lang, "no")}


class ScriptConsole:
    def __init__(self, feature: ScriptDesk) -> None:
        self.feature = feature
        self.portal = feature.portal
        self.templates = Templates(HERE / "templates")
        self.drafts: dict[str, run.Draft] = {}

    def desk_changed(self, operator: str) -> None:
        return None

    async def panel(self, login: Login, live: Live, request: web.Request | None) -> str | None:
        return None  # the inbound card stays; the script goes on it (card())

    def replaces_outcome(self, call: repo.CallRecord) -> bool:
        """A client with a script: its answers are the outcome, not the plain form."""
        return self._script(call.client_id) is not None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/script", self.step)

    def _script(self, client_id: str | None) -> Script | None:
        client = self.feature.services.rules.current.clients.get(client_id or "")
        return client.script if client is not None else None

    # -- the card ---------------------------------------------------------------------------

    async def card(self, login: Login, live: Live, call: repo.CallRecord) -> Markup | None:
        script = self._script(call.client_id)
        if script is None:
            return None
        services = self.feature.services
        saved = await outcomes.get_outcome(services.sessions, call.linkedid)
        earlier = await repo.caller_history(
            services.sessions, call.client_id or "", call.caller_number or "", HISTORY,
            exclude_linkedid=call.linkedid,
        )  # fmt: skip
        kept = await fields.fields_for(
            services.sessions, [call.linkedid, *(c.linkedid for c in earlier)]
        )
        zone = self._zone(call.client_id)
        history = [(c, kept[c.linkedid]) for c in earlier if c.linkedid in kept]
        context: dict[str, Any] = {
            "root": self.portal.prefix,
            "login": login,
            "call": call,
            "history": history,
            "zone": zone,
            "yes_no": type_labels(login.lang),
        }
        if saved is not None:
            html = self.templates.render(
                "script.html", login.lang, done=kept.get(call.linkedid, []), outcome=saved,
                **context,
            )  # fmt: skip
            return Markup(html)  # noqa: S704  (rendered by an autoescaping template)
        draft = self._draft(script, call)
        step = script.steps.get(draft.at)
        if step is None:  # the rules changed under the call: start again
            draft = self._restart(script, call)
            step = script.steps[draft.at]
        step = texts.with_says(step, await texts.says_for(services.sessions, call.client_id or ""))
        me = services.rules.current.operators.get(login.user)
        caller = draft.answers.get("caller_name") or call.caller_name or ""
        asked = [script.fields[n] for n in (*step.ask, *draft.extra)]
        html = self.templates.render(
            "script.html",
            login.lang,
            done=None,
            step=step,
            number=len(draft.trail) + 1,
            say=script.say(step, me.name if me else login.user, caller, draft.answers),
            asked=asked,
            answers=draft.answers,
            errors=draft.errors,
            passed=[
                (script.fields[n], draft.answers.get(n, ""))
                for s in draft.trail
                for n in script.steps[s].ask
                if draft.answers.get(n)
            ],
            input_types=INPUT_TYPES,
            prefix=run.FIELD_PREFIX,
            **context,
        )
        return Markup(html)  # noqa: S704  (rendered by an autoescaping template)

    def _zone(self, client_id: str | None) -> str:
        client = self.feature.services.rules.current.clients.get(client_id or "")
        return client.card.timezone if client else "Europe/Rome"

    def _draft(self, script: Script, call: repo.CallRecord) -> run.Draft:
        draft = self.drafts.get(call.linkedid)
        if draft is None or draft.client_id != call.client_id:
            draft = self._restart(script, call)
        return draft

    def _restart(self, script: Script, call: repo.CallRecord) -> run.Draft:
        if len(self.drafts) >= DRAFTS_MAX:  # the oldest first: calls long over
            self.drafts.pop(next(iter(self.drafts)))
        draft = run.start(script, call.linkedid, call.client_id or "", call.caller_number or "")
        self.drafts[call.linkedid] = draft
        return draft

    # -- a step sent --------------------------------------------------------------------------

    async def step(self, request: web.Request) -> web.Response:
        login = await self.portal.operator_login(request)
        data = await self.portal.posted_form(request, login)
        services = self.feature.services
        linkedid = data.get("linkedid", "")
        call = await repo.get_call(services.sessions, linkedid) if linkedid else None
        live = self.portal.board.live(login.user)
        if call is None or not self.portal.may_write(login.user, live, call):
            raise web.HTTPConflict(text=tr(login.lang, "This call is not yours to write down."))
        script = self._script(call.client_id)
        if script is None:
            raise web.HTTPConflict(text=tr(login.lang, "This client has no script."))
        draft = self._draft(script, call)
        if data.get("step") != draft.at:  # a page shown before a step was sent elsewhere
            raise web.HTTPSeeOther(f"{self.portal.prefix}/")
        run.submit(script, draft, data, login.lang, back=data.get("go") == "back")
        if draft.end is None:
            raise web.HTTPSeeOther(f"{self.portal.prefix}/")
        problem = await self._finish(login, call, script, draft, draft.end)
        self.drafts.pop(call.linkedid, None)
        if problem:
            return await self.portal.console_page(
                login, request, problem=problem, saved=call.linkedid
            )
        raise web.HTTPSeeOther(f"{self.portal.prefix}/?saved={call.linkedid}")

    async def _finish(
        self, login: Login, call: repo.CallRecord, script: Script, draft: run.Draft, end: End
    ) -> str:
        """Keep the message with its fields, then do what the end asks; a problem, or ""."""
        services = self.feature.services
        client = services.rules.current.clients.get(call.client_id or "")
        answers = run.answers_of(script, draft, client.card.language if client else "it")
        values = {a.field: a.value for a in answers}
        now = services.clock()
        callback = values.get("callback", "")
        callback = ("+" if callback.startswith("+") else "") + re.sub(r"[^0-9]", "", callback)
        outcome = outcomes.Outcome(
            linkedid=call.linkedid,
            operator=login.user,
            client_id=call.client_id,
            caller_name=values.get("caller_name") or call.caller_name or "",
            callback=callback or call.caller_number or "",
            message=values.get("message", ""),
            category="message",
            urgent=end.urgent or end.ladder is not None,
            escalation=None,
            saved_at=now,
        )
        async with services.sessions.begin() as session:  # the fields before the message
            await fields.replace_fields(session, call.linkedid, call.client_id, answers, now)
        await outcomes.save_outcome(services.sessions, outcome)
        await services.wake.send(OUTBOX, call.client_id or "")
        log.info("script of call %s ended by %s: %s", call.linkedid, login.user, end)
        if outcome.urgent:
            note = await self.portal.escalate(call, outcome, end.ladder)
            await outcomes.set_escalation(services.sessions, call.linkedid, note)
        await self.portal.end_wrapup(login.user, call.linkedid)
        if end.put_through is None:
            return ""
        person: str | None = end.put_through
        if person == ON_CALL:
            person = await self.feature.on_call_person(call.client_id, now)
        if person is None:
            return tr(login.lang, "Nobody is on call now: the message is kept.")
        why = ", ".join(a.shown for a in answers if a.field not in ("caller_name", "callback"))
        problem = await self.feature.put_through(
            login.user, person, ANNOUNCED, who=outcome.caller_name[:100], why=why[:200]
        )
        if problem is None:
            return ""
        return tr(login.lang, "The message is kept, but the call could not be put through.")
