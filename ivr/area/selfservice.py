"""Self-service: the client sets an override the routing obeys on the next call ("closed
until", "away today", "forward to this number until"), edits its escalation contacts and
the instructions operators read on its card (kept as versions), and its admins read the
audit log of every change. Every value is checked as the rules check it."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aiohttp import web

from ivr import bounds
from ivr.area.pages import Page
from ivr.dialpolicy import check
from ivr.i18n import local_datetime, tr
from ivr.routing.overrides import Override, OverrideError
from ivr.selfservice import store as edits

if TYPE_CHECKING:
    from ivr.area.app import Ctx
    from ivr.routing.model import Client, Ladder

MAX_DAYS = 90  # an override further ahead is a change of the rules, not an override
KINDS = ("closed", "away", "forward")


def ladders_of(client: Client, ladders: dict[str, Ladder]) -> list[Ladder]:
    """The ladders this client's rules start."""
    chains = [rule.chain for rule in client.rules]
    for menu in client.menus.values():
        chains += [*menu.options.values(), menu.default]
    found: list[str] = []
    for chain in chains:
        for target in chain:
            ladder = target.step.ladder if target.step.kind == "escalate" else None
            if ladder and ladder in ladders and ladder not in found:
                found.append(ladder)
    return [ladders[name] for name in found]


class SelfServicePage(Page):
    slug = "settings"
    title = "Settings"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/settings", self.show),
            web.post("/settings/override", self.set_override),
            web.post("/settings/override/clear", self.clear_override),
            web.post("/settings/card", self.save_card),
            web.post("/settings/ladders/{ladder}", self.save_ladder),
            web.get("/audit", self.audit),
        ]

    @property
    def sessions(self) -> Any:
        return self.area.services.sessions

    def _now(self) -> datetime:
        return self.area.services.clock()

    async def show(self, request: web.Request, status: int = 200, **context: Any) -> web.Response:
        ctx = await self.area.ctx(request)
        now = self._now()
        override = self.area.services.overrides.current().for_client(ctx.client_id, now)
        if override is not None and override.client != ctx.client_id:
            override = None  # the center's own override of every client: not the client's
        card = await edits.card_for(self.sessions, ctx.client.card)
        card_versions = await edits.history(self.sessions, ctx.client_id, edits.CARD)
        ladders = []
        for ladder in ladders_of(ctx.client, self.area.rules.ladders):
            mine = await edits.ladder_for(self.sessions, ctx.client_id, ladder)
            versions = await edits.history(self.sessions, ctx.client_id, edits.LADDER, ladder.id)
            rows = context.get("ladder_rows", {}).get(ladder.id) or edits.contact_rows(mine)
            ladders.append((ladder.id, rows + [{}] * 2, versions[:5]))
        context.setdefault("errors", {})
        return await self.area.page(
            request,
            ctx,
            "settings.html",
            status,
            override=override,
            card=card,
            card_versions=card_versions[:5],
            ladders=ladders,
            local_now=now.astimezone(ZoneInfo(ctx.zone)),
            kinds=KINDS,
            **context,
        )

    # -- overrides -------------------------------------------------------------------------

    def _until(self, ctx: Ctx, text: str) -> datetime | None:
        try:
            local = bounds.moment(text)
        except ValueError:
            return None
        if local.tzinfo is not None:
            return None
        return local.replace(tzinfo=ZoneInfo(ctx.zone))

    async def set_override(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request)
        form = await request.post()
        kind = str(form.get("kind", ""))
        now = self._now()
        lang = ctx.lang
        errors: dict[str, str] = {}
        target = ""
        if kind == "away":
            tomorrow = now.astimezone(ZoneInfo(ctx.zone)).date() + timedelta(days=1)
            until: datetime | None = datetime.combine(tomorrow, time(0), ZoneInfo(ctx.zone))
        else:
            until = self._until(ctx, str(form.get("until", "")))
            if until is None:
                errors["until"] = tr(lang, "Give the date and time it ends.")
            elif until <= now:
                errors["until"] = tr(lang, "The end is in the past.")
            elif until > now + timedelta(days=MAX_DAYS):
                errors["until"] = tr(lang, "At most %(days)d days ahead.", days=MAX_DAYS)
        if kind not in KINDS:
            errors["kind"] = tr(lang, "Choose what to do with the calls.")
        if kind == "forward":
            number = str(form.get("number", "")).strip()
            verdict = check(self.area.rules.dial_policy_for(ctx.client_id), number)
            if not verdict.allowed:
                errors["number"] = tr(
                    lang, "This number may not be dialled: %(reason)s.", reason=verdict.reason
                )
            target = edits.trunk_digits(verdict.number) if verdict.allowed else ""
        if errors:
            return await self.show(request, 422, errors=errors, form=dict(form))
        assert until is not None
        mode = "forward" if kind == "forward" else "closed"
        reason = {"closed": "closed", "away": "away today", "forward": "forwarded"}[kind]
        try:
            item = Override(ctx.client_id, mode, until, target, f"{reason} ({ctx.user.email})", now)
            await self.area.services.overrides.put(item, now)
        except OverrideError as exc:
            return await self.show(request, 422, errors={"kind": str(exc)}, form=dict(form))
        await edits.audit(
            self.sessions,
            ctx.client_id,
            ctx.user.email,
            "override.set",
            {"kind": kind, "until": until.isoformat(), "number": target},
            now,
        )
        raise web.HTTPSeeOther(f"{self.area.prefix}/settings?saved=override")

    async def clear_override(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request)
        now = self._now()
        if await self.area.services.overrides.remove(ctx.client_id, now):
            await edits.audit(
                self.sessions, ctx.client_id, ctx.user.email, "override.clear", {}, now
            )
        raise web.HTTPSeeOther(f"{self.area.prefix}/settings?saved=override")

    # -- the card and the ladders ------------------------------------------------------------

    async def save_card(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request, admin=True)
        form = await request.post()
        text = str(form.get("instructions", "")).replace("\r\n", "\n").strip()
        problem = edits.check_instructions(text, ctx.lang)
        if problem:
            return await self.show(request, 422, errors={"instructions": problem})
        await edits.save(
            self.sessions,
            ctx.client_id,
            edits.CARD,
            "",
            {"instructions": text},
            ctx.user.email,
            self._now(),
        )
        raise web.HTTPSeeOther(f"{self.area.prefix}/settings?saved=card")

    async def save_ladder(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request, admin=True)
        name = request.match_info["ladder"]
        mine = {ladder.id for ladder in ladders_of(ctx.client, self.area.rules.ladders)}
        if name not in mine:
            raise web.HTTPNotFound()
        form = await request.post()
        rows = []
        for i in range(12):
            rows.append({k: str(form.get(f"{k}{i}", "")) for k in edits.FIELDS})
        policy = self.area.rules.dial_policy_for(ctx.client_id)
        contacts, errors = edits.check_contacts(rows, policy, ctx.lang)
        if errors:
            return await self.show(
                request,
                422,
                errors={f"{name}.{k}": v for k, v in errors.items()},
                ladder_rows={name: [r for r in rows if any(r.values())]},
            )
        await edits.save(
            self.sessions,
            ctx.client_id,
            edits.LADDER,
            name,
            {"contacts": contacts},
            ctx.user.email,
            self._now(),
        )
        raise web.HTTPSeeOther(f"{self.area.prefix}/settings?saved={name}")

    async def audit(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request, admin=True)
        entries = await edits.audit_log(self.sessions, ctx.client_id)
        return await self.area.page(
            request, ctx, "audit.html", entries=entries, when=local_datetime
        )
