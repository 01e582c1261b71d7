"""The user's own account: language, how to be told of new messages (an email for each, only
urgent ones, or a daily digest at a chosen time), password, and the TOTP second factor (a QR
code drawn by segno as inline SVG: no image from elsewhere, nothing the policy refuses)."""

from __future__ import annotations

import io
import re
from typing import Any

import segno
from aiohttp import web
from markupsafe import Markup

from ivr.area import users
from ivr.area.models import NOTIFY
from ivr.area.notify import WAKE_PREFS
from ivr.area.pages import Page
from ivr.i18n import LANGUAGES, tr
from ivr.selfservice import store as edits

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def qr_svg(uri: str) -> Markup:
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, xmldecl=False, svgns=True)
    return Markup(out.getvalue().decode())  # noqa: S704 (segno's own markup of our URI)


class AccountPage(Page):
    slug = "account"
    title = "My account"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/account", self.show),
            web.post("/account/prefs", self.prefs),
            web.post("/account/password", self.password),
            web.post("/account/totp", self.totp_on),
            web.post("/account/totp/off", self.totp_off),
        ]

    @property
    def sessions(self) -> Any:
        return self.area.services.sessions

    async def show(
        self, request: web.Request, status: int = 200, errors: dict[str, str] | None = None
    ) -> web.Response:
        ctx = await self.area.ctx(request)
        enrol = None
        if not ctx.user.totp_on:
            secret = await users.totp_secret(self.sessions, ctx.user.id)
            uri = users.totp_uri(secret, ctx.user.email, f"ivr {ctx.client.name}")
            enrol = {"secret": secret, "qr": qr_svg(uri)}
        return await self.area.page(
            request,
            ctx,
            "account.html",
            status,
            enrol=enrol,
            notify=NOTIFY,
            languages=LANGUAGES,
            errors=errors or {},
            saved=request.query.get("saved", ""),
        )

    async def prefs(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request)
        form = await request.post()
        language = str(form.get("language", ""))
        notify = str(form.get("notify", ""))
        digest_at = str(form.get("digest_at", "")).strip() or ctx.user.digest_at
        errors = {}
        if language not in LANGUAGES:
            errors["language"] = tr(ctx.lang, "Choose a language.")
        if notify not in NOTIFY:
            errors["notify"] = tr(ctx.lang, "Choose how to be told.")
        if not _HHMM.match(digest_at):
            errors["digest_at"] = tr(ctx.lang, "A time of day, as HH:MM.")
        if errors:
            return await self.show(request, 422, errors)
        await users.set_prefs(
            self.sessions, ctx.user.id, language=language, notify=notify, digest_at=digest_at
        )
        if notify == "digest" and (ctx.user.notify != "digest" or digest_at != ctx.user.digest_at):
            await users.digest_sent(self.sessions, ctx.user.id, self.area.services.clock())
        await self.area.services.wake.send(WAKE_PREFS)  # every engine's digest clock
        raise web.HTTPSeeOther(f"{self.area.prefix}/account?saved=prefs")

    async def password(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request)
        form = await request.post()
        current = await users.check_password(
            self.sessions, ctx.user.email, str(form.get("current", ""))
        )
        new = str(form.get("password", ""))
        if current is None:
            return await self.show(request, 422, {"current": tr(ctx.lang, "Wrong password.")})
        if users.password_problem(new):
            error = tr(
                ctx.lang, "A password has at least %(most)d characters.", most=users.PASSWORD_MIN
            )
            return await self.show(request, 422, {"password": error})
        await users.set_password(self.sessions, ctx.user.id, new)
        await self._audit(ctx.client_id, ctx.user.email, "password-change")
        raise await self._renewed(request, ctx.user.id, "password")

    async def _renewed(self, request: web.Request, user_id: int, saved: str) -> web.HTTPSeeOther:
        """The credentials changed: the user's other sessions end, this one is renewed."""
        response = web.HTTPSeeOther(f"{self.area.prefix}/account?saved={saved}")
        await self.area.auth.renew(request, response, str(user_id))
        return response

    async def totp_on(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request)
        form = await request.post()
        now = self.area.services.clock()
        if not await users.totp_verify(self.sessions, ctx.user.id, str(form.get("code", "")), now):
            error = tr(ctx.lang, "Wrong code: type the six digits your app shows now.")
            return await self.show(request, 422, {"code": error})
        await users.totp_enable(self.sessions, ctx.user.id, True)
        await self._audit(ctx.client_id, ctx.user.email, "totp-on")
        raise await self._renewed(request, ctx.user.id, "totp")

    async def totp_off(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request)
        form = await request.post()
        if (
            await users.check_password(self.sessions, ctx.user.email, str(form.get("current", "")))
            is None
        ):
            return await self.show(request, 422, {"off": tr(ctx.lang, "Wrong password.")})
        await users.totp_enable(self.sessions, ctx.user.id, False)
        await self._audit(ctx.client_id, ctx.user.email, "totp-off")
        raise await self._renewed(request, ctx.user.id, "totp")

    async def _audit(self, client_id: str, actor: str, action: str) -> None:
        await edits.audit(self.sessions, client_id, actor, action, {}, self.area.services.clock())
