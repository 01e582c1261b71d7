"""The webhook in the client's area (admins only): the address the client's messages are
posted to and the secret that signs them (shown once, when it is made, never again), and
every delivery tried with the receiver's answer."""

from __future__ import annotations

import secrets
from pathlib import Path

from aiohttp import web

from ivr.area.pages import Page
from ivr.dispatch import store
from ivr.dispatch.guard import Refused, allowed_addresses, check_url
from ivr.i18n import tr
from ivr.selfservice.store import audit

SECRET_MIN = 16


class WebhookPage(Page):
    slug = "webhook"
    title = "Webhook"
    admin_only = True
    templates = Path(__file__).resolve().parent / "templates"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/webhook", self.show),
            web.post("/webhook", self.save),
            web.post("/webhook/remove", self.remove),
        ]

    async def show(
        self, request: web.Request, status: int = 200, error: str = "", secret: str = ""
    ) -> web.Response:
        ctx = await self.area.ctx(request, admin=True)
        sessions = self.area.services.sessions
        return await self.area.page(
            request, ctx, "area_webhook.html", status,
            hook=await store.hook_of(sessions, ctx.client_id),
            deliveries=await store.deliveries(sessions, ctx.client_id),
            error=error, secret=secret, saved=request.query.get("saved", ""),
        )  # fmt: skip

    async def save(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request, admin=True)
        form = await request.post()
        url = str(form.get("url", "")).strip()
        given = str(form.get("secret", "")).strip()
        settings = self.area.services.settings
        try:  # the floor again at the moment of posting; said now so the admin can fix it
            check_url(url, allowed_addresses(settings.webhook_allow_addresses), ())
        except Refused as exc:
            return await self.show(request, 422, tr(ctx.lang, "Refused: %(why)s", why=str(exc)))
        sessions = self.area.services.sessions
        before = await store.hook_of(sessions, ctx.client_id)
        made = ""
        if form.get("new_secret") == "1" or (before is None and not given):
            made = given = secrets.token_urlsafe(32)
        elif given and len(given) < SECRET_MIN:
            error = tr(ctx.lang, "The secret has at least %(most)d characters.", most=SECRET_MIN)
            return await self.show(request, 422, error)
        now = self.area.services.clock()
        await store.set_hook(sessions, ctx.client_id, url, given or None, ctx.user.email, now)
        detail = {"url": url, "secret": "changed" if given else "kept"}
        await audit(sessions, ctx.client_id, ctx.user.email, "webhook", detail, now)
        if made:  # shown this once: the page after the redirect no longer has it
            return await self.show(request, 200, secret=made)
        raise web.HTTPSeeOther(f"{self.area.prefix}/webhook?saved=1")

    async def remove(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request, admin=True)
        sessions = self.area.services.sessions
        await store.remove_hook(sessions, ctx.client_id)
        now = self.area.services.clock()
        await audit(sessions, ctx.client_id, ctx.user.email, "webhook", {"url": ""}, now)
        raise web.HTTPSeeOther(f"{self.area.prefix}/webhook?saved=1")
