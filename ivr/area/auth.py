"""Logging in to the client area: email and password (Argon2), the TOTP code when the user
enrolled one, logging out (here or everywhere), and the password-reset link by email."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ivr import i18n
from ivr.area import users
from ivr.i18n import tr
from ivr.selfservice import store as edits

if TYPE_CHECKING:
    from ivr.area.app import Ctx
    from ivr.area.notify import Notifier
    from ivr.services import Services
    from ivr.web.auth import WebAuth

log = logging.getLogger(__name__)


class AreaLogin:
    """The Area's login pages (a mixin: the Area provides what is declared here)."""

    services: Services
    auth: WebAuth
    prefix: str
    notifier: Notifier
    templates: i18n.Templates

    def link(self, path: str) -> str:
        raise NotImplementedError

    def render(
        self, request: web.Request, name: str, lang: str, status: int = 200, **context: Any
    ) -> web.Response:
        raise NotImplementedError

    async def ctx(self, request: web.Request, *, admin: bool = False) -> Ctx:
        raise NotImplementedError

    def login_routes(self, app: web.Application) -> None:
        app.router.add_get("/login", self.login_page)
        app.router.add_post("/login", self.login)
        app.router.add_get("/totp", self.totp_page)
        app.router.add_post("/totp", self.totp)
        app.router.add_post("/logout", self.logout)
        app.router.add_post("/logout-all", self.logout_all)
        app.router.add_get("/forgot", self.forgot_page)
        app.router.add_post("/forgot", self.forgot)
        app.router.add_get("/reset/{token}", self.reset_page)
        app.router.add_post("/reset/{token}", self.reset)

    def _lang(self, request: web.Request) -> str:
        chosen = request.query.get("lang", "")
        if chosen in i18n.LANGUAGES:
            return chosen
        return i18n.negotiate(request.headers.get("Accept-Language"))

    def _public(
        self, request: web.Request, name: str, status: int = 200, **context: Any
    ) -> web.Response:
        """A page shown before any login, with its pre-session CSRF token."""
        csrf = self.auth.pre_token(request)
        context.setdefault("error", "")
        context.setdefault("notice", "")
        response = self.render(request, name, self._lang(request), status, csrf=csrf, **context)
        self.auth.keep_pre(request, response, csrf)
        return response

    def _to(self, path: str) -> web.HTTPSeeOther:
        return web.HTTPSeeOther(f"{self.prefix}{path}")

    # -- password, then the second factor ---------------------------------------------------

    async def login_page(self, request: web.Request) -> web.Response:
        notice = ""
        if request.query.get("reset") == "1":
            notice = tr(self._lang(request), "Your password is changed: log in with it.")
        return self._public(request, "login.html", email="", notice=notice)

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        email = str(form.get("email", "")).strip().lower()[:255]
        password = str(form.get("password", ""))
        lang = self._lang(request)
        wait = await self.auth.wait_seconds(request, email)
        if wait:
            text = self.auth.throttled_text(request, wait, lang)
            return self._public(request, "login.html", 429, email=email, error=text)
        user = await users.check_password(self.services.sessions, email, password)
        if user is None:
            await self.auth.failed(request, email)
            error = tr(lang, "Unknown email or wrong password.")
            return self._public(request, "login.html", 401, email=email, error=error)
        await self.auth.purge()
        if user.totp_on:
            response = self._to("/totp")
            await self.auth.begin(request, response, str(user.id), pending=True)
            raise response
        await self.auth.succeeded(request, email)
        response = self._to("/calls")
        await self.auth.begin(request, response, str(user.id))
        await self._audit(user, "login")
        raise response

    async def totp_page(self, request: web.Request) -> web.Response:
        session = await self.auth.current(request, pending_ok=True)
        if session is None or not session.pending:
            raise self._to("/login")
        user = await users.get(self.services.sessions, int(session.user))
        lang = user.language if user else self._lang(request)
        return self.render(request, "totp.html", lang, csrf=session.csrf, error="")

    async def totp(self, request: web.Request) -> web.Response:
        session = await self.auth.current(request, pending_ok=True)
        if session is None or not session.pending:
            raise self._to("/login")
        user = await users.get(self.services.sessions, int(session.user))
        if user is None:
            raise self._to("/login")
        form = await request.post()
        lang = user.language
        wait = await self.auth.wait_seconds(request, user.email)
        if wait:
            error = self.auth.throttled_text(request, wait, lang)
            return self.render(request, "totp.html", lang, 429, csrf=session.csrf, error=error)
        code = str(form.get("code", ""))
        if not await users.totp_verify(self.services.sessions, user.id, code, self.auth.clock()):
            await self.auth.failed(request, user.email)
            error = tr(lang, "Wrong code: type the six digits your app shows now.")
            return self.render(request, "totp.html", lang, 401, csrf=session.csrf, error=error)
        await self.auth.succeeded(request, user.email)
        response = self._to("/calls")
        await self.auth.confirm(request, response)
        await self._audit(user, "login")
        raise response

    async def logout(self, request: web.Request) -> web.Response:
        response = self._to("/login")
        await self.auth.end(request, response)
        raise response

    async def logout_all(self, request: web.Request) -> web.Response:
        ctx = await self.ctx(request)
        response = self._to("/login")
        await self.auth.end(request, response)
        await self.auth.end_all(str(ctx.user.id))
        await self._audit(ctx.user, "logout-everywhere")
        raise response

    async def _audit(self, user: users.User, action: str, **detail: Any) -> None:
        await edits.audit(
            self.services.sessions, user.client_id, user.email, action, detail, self.auth.clock()
        )

    # -- a forgotten password ---------------------------------------------------------------

    async def forgot_page(self, request: web.Request) -> web.Response:
        return self._public(request, "forgot.html", email="")

    async def forgot(self, request: web.Request) -> web.Response:
        form = await request.post()
        email = str(form.get("email", "")).strip().lower()[:255]
        lang = self._lang(request)
        wait = await self.auth.forgot_wait(request, email)
        if wait:
            text = self.auth.throttled_text(request, wait, lang)
            return self._public(request, "forgot.html", 429, email=email, error=text)
        # Counted on their own (the form cannot flood a mailbox nor probe many addresses),
        # never as a failed login: asking for a link locks nobody out.
        await self.auth.forgot_asked(request, email)
        user = await users.by_email(self.services.sessions, email)
        if user is not None:
            await self.send_reset(user, request)
        # The same answer either way: the form does not tell who has an account.
        notice = tr(
            lang, "If this address has an account, a link to set a new password is on its way."
        )
        return self._public(request, "forgot.html", email="", notice=notice)

    async def send_reset(self, user: users.User, request: web.Request | None = None) -> str:
        token = await users.reset_token(self.services.sessions, user.id, self.auth.clock())
        link = self.link(f"/reset/{token}")
        lang = user.language
        body = self.templates.render("reset.txt", lang, link=link, email=user.email)
        await self.notifier.send_mail(user.email, tr(lang, "Set your password"), body)
        return link

    async def reset_page(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        user = await users.reset_user(self.services.sessions, token, self.auth.clock())
        if user is None:
            return self._public(request, "reset.html", 404, valid=False, token="")
        return self._public(request, "reset.html", valid=True, token=token)

    async def reset(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        form = await request.post()
        password = str(form.get("password", ""))
        lang = self._lang(request)
        if password != str(form.get("again", "")):
            error = tr(lang, "The two passwords differ.")
            return self._public(request, "reset.html", 422, valid=True, token=token, error=error)
        if users.password_problem(password):
            error = tr(
                lang, "A password has at least %(most)d characters.", most=users.PASSWORD_MIN
            )
            return self._public(request, "reset.html", 422, valid=True, token=token, error=error)
        user = await users.use_reset(self.services.sessions, token, password, self.auth.clock())
        if user is None:
            return self._public(request, "reset.html", 404, valid=False, token="")
        await self.auth.end_all(str(user.id))  # whoever knew the old password is out
        await self.auth.succeeded(request, user.email)
        await self._audit(user, "password-reset")
        response = self._to("/login?reset=1")
        await self.auth.end(request, response)  # this browser's session too, if it had one
        raise response
