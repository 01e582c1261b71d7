"""Server-side web sessions, throttled logins and the guard every form passes.

One WebAuth per realm (the console, the client area), each with its own cookie and path.
A session lives in the database: it ends when unused for `web_idle_minutes`, and in any case
`web_absolute_hours` after the login, whatever the browser does with its cookie; "log out
everywhere" deletes every session of the user, and so does a change of password or second
factor (the browser that made it gets a new session and token).

Failed logins are counted per user and client address within a window (the address behind a
trusted proxy is the client's, ivr.web.proxy): past the limit that user is refused from that
address without the password being checked, and the page says how long to wait; no address can
lock out everyone, and nobody elsewhere can lock a user out. Password-reset requests have a
limit of their own and never count as failed logins.

Forms: a session's pages carry its own token, made at login; the forms shown before a login
(login, forgotten password, reset) carry a token signed with the server's key over a random
value in a pre-session cookie, so a cookie planted by someone else yields no token that they
know; and every state-changing request must come from our own origin (Origin,
Sec-Fetch-Site), a second layer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.config import Settings
from ivr.config import _secret as generated_secret
from ivr.i18n import negotiate, tr, trn
from ivr.web.headers import SCHEME, protect
from ivr.web.models import LoginFailure, WebSessionRow
from ivr.web.proxy import Network, forwarded, networks

log = logging.getLogger(__name__)

Sessions = async_sessionmaker[AsyncSession]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
SESSION_KEY = web.RequestKey("web_session", object)  # the request's session, once read
TOUCH_EVERY = timedelta(seconds=60)  # seen_at is written at most this often per session
PRE_NONCE = web.RequestKey("web_pre_nonce", str)
# Forms a browser posts before any login: they take the signed pre-session token.
PUBLIC_FORMS = ("/login", "/forgot")
PUBLIC_PREFIXES = ("/reset/",)
# Password-reset links asked for within the login window: per email, and per client address
# (the form cannot be used to flood someone's mailbox nor to probe many addresses).
FORGOT_PER_USER = 3
FORGOT_PER_ADDRESS = 10
FORGOT = "/forgot"  # the realm suffix of their rows in login_failures


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class WebSession:
    token: str
    realm: str
    user: str
    csrf: str
    pending: bool
    created_at: datetime
    seen_at: datetime


@dataclass(frozen=True)
class Policy:
    idle: timedelta
    absolute: timedelta
    secure: str  # auto, always, never
    max_per_user: int
    window: timedelta
    trusted: tuple[Network, ...]
    key: bytes  # signs the pre-session form tokens

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        return cls(
            timedelta(minutes=settings.web_idle_minutes),
            timedelta(hours=settings.web_absolute_hours),
            settings.web_secure_cookies,
            settings.login_max_per_user,
            timedelta(minutes=settings.login_window_minutes),
            networks(settings.web_trusted_proxies),
            generated_secret(settings.shared_state / "web.key").encode(),
        )


class WebAuth:
    """Sessions and logins of one realm, served under `path` with the cookie `cookie`."""

    def __init__(
        self,
        sessions: Sessions,
        realm: str,
        cookie: str,
        path: str,
        policy: Policy,
        clock: Callable[[], datetime],
    ) -> None:
        self.sessions = sessions
        self.realm = realm
        self.cookie = cookie
        self.pre_cookie = f"{cookie}_pre"
        self.path = path
        self.policy = policy
        self.clock = clock

    # -- cookies ---------------------------------------------------------------------------

    def secure(self, request: web.Request) -> bool:
        if self.policy.secure == "always":
            return True
        return self.policy.secure == "auto" and request.secure

    def _set(
        self, request: web.Request, response: web.StreamResponse, name: str, value: str
    ) -> None:
        response.set_cookie(
            name,
            value,
            path=self.path,
            httponly=True,
            samesite="Strict",
            secure=self.secure(request),
            max_age=int(self.policy.absolute.total_seconds()),
        )

    def _unset(self, request: web.Request, response: web.StreamResponse, name: str) -> None:
        response.del_cookie(
            name, path=self.path, secure=self.secure(request), httponly=True, samesite="Strict"
        )

    def _signed(self, nonce: str) -> str:
        mac = hmac.new(self.policy.key, f"{self.realm}:{nonce}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")

    def pre_token(self, request: web.Request) -> str:
        """The CSRF token of a form shown before any session (login, password reset): signed
        over the browser's pre-session cookie, or over a new one (keep_pre sends it)."""
        nonce = request.cookies.get(self.pre_cookie, "")
        if len(nonce) < 20 or len(nonce) > 64:
            nonce = secrets.token_urlsafe(24)
        request[PRE_NONCE] = nonce
        return self._signed(nonce)

    def keep_pre(self, request: web.Request, response: web.StreamResponse, token: str) -> None:
        """Send the pre-session cookie that `token` (from pre_token) was signed over."""
        nonce = request.get(PRE_NONCE, "")
        if nonce and hmac.compare_digest(self._signed(nonce), token):
            self._set(request, response, self.pre_cookie, nonce)

    def pre_ok(self, request: web.Request, given: str) -> bool:
        nonce = request.cookies.get(self.pre_cookie, "")
        return bool(nonce and given) and hmac.compare_digest(given, self._signed(nonce))

    # -- sessions --------------------------------------------------------------------------

    def _alive(self, row: WebSessionRow, now: datetime) -> bool:
        return now - row.seen_at < self.policy.idle and now - row.created_at < self.policy.absolute

    async def by_token(self, token: str, *, touch: bool = True) -> WebSession | None:
        """The session of a cookie's token if it is still alive (an expired one is deleted)."""
        if not token:
            return None
        now = self.clock()
        key = _digest(token)
        async with self.sessions.begin() as session:
            row = await session.get(WebSessionRow, key)
            if row is None or row.realm != self.realm:
                return None
            if not self._alive(row, now):
                await session.delete(row)
                return None
            if touch and now - row.seen_at >= TOUCH_EVERY:
                row.seen_at = now
            return WebSession(
                token, row.realm, row.user, row.csrf, row.pending, row.created_at, row.seen_at
            )

    async def current(self, request: web.Request, *, pending_ok: bool = False) -> WebSession | None:
        if SESSION_KEY in request:
            found = cast(WebSession | None, request[SESSION_KEY])
        else:
            found = await self.by_token(request.cookies.get(self.cookie, ""))
            request[SESSION_KEY] = found
        if found is not None and found.pending and not pending_ok:
            return None
        return found

    async def begin(
        self,
        request: web.Request,
        response: web.StreamResponse,
        user: str,
        *,
        pending: bool = False,
    ) -> WebSession:
        """A new session for user (the old one of this browser, if any, is ended)."""
        old = request.cookies.get(self.cookie, "")
        token = secrets.token_urlsafe(32)
        now = self.clock()
        row = WebSessionRow(
            id=_digest(token),
            realm=self.realm,
            user=user,
            csrf=secrets.token_urlsafe(24),
            pending=pending,
            address=_address(request),
            created_at=now,
            seen_at=now,
        )
        async with self.sessions.begin() as session:
            if old:
                await session.execute(delete(WebSessionRow).where(WebSessionRow.id == _digest(old)))
            session.add(row)
        self._set(request, response, self.cookie, token)
        self._unset(request, response, self.pre_cookie)  # the login form's token is spent
        request.pop(SESSION_KEY, None)
        return WebSession(token, self.realm, user, row.csrf, pending, now, now)

    async def renew(
        self, request: web.Request, response: web.StreamResponse, user: str
    ) -> WebSession:
        """After a change of password or second factor: every other session of the user ends,
        and this browser goes on with a new session and token."""
        ended = await self.end_all(user)
        log.info("%s: credentials of %s changed, %d sessions ended", self.realm, user, ended)
        return await self.begin(request, response, user)

    async def end(self, request: web.Request, response: web.StreamResponse) -> None:
        token = request.cookies.get(self.cookie, "")
        if token:
            async with self.sessions.begin() as session:
                await session.execute(
                    delete(WebSessionRow).where(WebSessionRow.id == _digest(token))
                )
        self._unset(request, response, self.cookie)

    async def end_all(self, user: str) -> int:
        """Log the user out everywhere; how many sessions ended."""
        async with self.sessions.begin() as session:
            result: Any = await session.execute(
                delete(WebSessionRow).where(
                    WebSessionRow.realm == self.realm, WebSessionRow.user == user
                )
            )
        return int(result.rowcount or 0)

    async def users_with_sessions(self) -> set[str]:
        now = self.clock()
        async with self.sessions() as session:
            rows = await session.execute(
                select(WebSessionRow.user, WebSessionRow.seen_at, WebSessionRow.created_at).where(
                    WebSessionRow.realm == self.realm, WebSessionRow.pending.is_(False)
                )
            )
            return {
                user
                for user, seen, created in rows
                if now - seen < self.policy.idle and now - created < self.policy.absolute
            }

    async def confirm(self, request: web.Request, response: web.StreamResponse) -> WebSession:
        """The second factor is right: a fresh session (a new token) that opens pages."""
        current = await self.current(request, pending_ok=True)
        if current is None:
            raise web.HTTPForbidden(text="no login in progress")
        return await self.begin(request, response, current.user)

    async def purge(self) -> None:
        """Forget expired sessions and failures older than the window."""
        now = self.clock()
        async with self.sessions.begin() as session:
            await session.execute(
                delete(WebSessionRow).where(
                    WebSessionRow.realm == self.realm,
                    (WebSessionRow.seen_at <= now - self.policy.idle)
                    | (WebSessionRow.created_at <= now - self.policy.absolute),
                )
            )
            await session.execute(
                delete(LoginFailure).where(
                    LoginFailure.realm.in_((self.realm, self.realm + FORGOT)),
                    LoginFailure.at <= now - self.policy.window,
                )
            )

    # -- throttling ------------------------------------------------------------------------

    async def _wait(self, realm: str, limits: list[tuple[Any, int]]) -> int:
        """Seconds until each limit (a condition on login_failures, the most rows it may
        match within the window) is kept; 0 when all are."""
        now = self.clock()
        since = now - self.policy.window
        waits = [0.0]
        async with self.sessions() as session:
            for condition, most in limits:
                stamps = list(
                    await session.scalars(
                        select(LoginFailure.at)
                        .where(LoginFailure.realm == realm, condition, LoginFailure.at > since)
                        .order_by(LoginFailure.at.desc())
                        .limit(most)
                    )
                )
                if len(stamps) >= most:  # the oldest of the last `most` must leave the window
                    waits.append((stamps[-1] + self.policy.window - now).total_seconds())
        return max(0, int(max(waits) + 0.999))

    async def wait_seconds(self, request: web.Request, user: str) -> int:
        """0 when this user may try a password from this address now; else seconds to wait."""
        pair = (LoginFailure.user == user.lower()) & (LoginFailure.address == _address(request))
        return await self._wait(self.realm, [(pair, self.policy.max_per_user)])

    async def failed(self, request: web.Request, user: str) -> None:
        await self._note(self.realm, request, user)
        log.warning("%s: failed login for %r from %s", self.realm, user, _address(request))

    async def _note(self, realm: str, request: web.Request, user: str) -> None:
        async with self.sessions.begin() as session:
            session.add(
                LoginFailure(
                    realm=realm, user=user.lower(), address=_address(request), at=self.clock()
                )
            )

    async def forgot_wait(self, request: web.Request, email: str) -> int:
        """0 when a reset link may be asked for email from this address now."""
        return await self._wait(
            self.realm + FORGOT,
            [
                (LoginFailure.user == email.lower(), FORGOT_PER_USER),
                (LoginFailure.address == _address(request), FORGOT_PER_ADDRESS),
            ],
        )

    async def forgot_asked(self, request: web.Request, email: str) -> None:
        await self._note(self.realm + FORGOT, request, email)

    async def succeeded(self, request: web.Request, user: str) -> None:
        """The user logged in from this address: its failures there are forgotten."""
        async with self.sessions.begin() as session:
            await session.execute(
                delete(LoginFailure).where(
                    LoginFailure.realm == self.realm,
                    LoginFailure.user == user.lower(),
                    LoginFailure.address == _address(request),
                )
            )

    def throttled_text(self, request: web.Request, seconds: int, lang: str | None = None) -> str:
        minutes = max(1, (seconds + 59) // 60)
        return trn(
            lang or negotiate(request.headers.get("Accept-Language")),
            "Too many failed logins: try again in %(num)d minute.",
            "Too many failed logins: try again in %(num)d minutes.",
            minutes,
        )

    async def count(self) -> int:
        async with self.sessions() as session:
            found = await session.scalar(
                select(func.count())
                .select_from(WebSessionRow)
                .where(WebSessionRow.realm == self.realm)
            )
            return int(found or 0)

    async def keep_alive(self, session: WebSession) -> bool:
        """For a long request (an event stream): is its session still alive? Touches it."""
        return await self.by_token(session.token) is not None

    async def set_user(self, user: str, new: str) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                update(WebSessionRow)
                .where(WebSessionRow.realm == self.realm, WebSessionRow.user == user)
                .values(user=new)
            )


def _address(request: web.Request) -> str:
    return (request.remote or "")[:64]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Guard:
    """The middleware of an app (`Guard(auth, limit).middleware`): the client's address and
    scheme read from a trusted proxy, its own body limit, the security headers (ivr.web.headers),
    and on every state-changing request our own origin and the form's token.

    aiohttp reads a request's body with the limit of the application that made the request,
    which is the root one (1 MiB) even for a sub-app's routes: the request is cloned here with
    this app's limit, so every read (post(), read(), multipart) stops at it.
    """

    def __init__(self, auth: WebAuth, limit: int) -> None:
        self.auth = auth
        self.limit = limit

        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            remote, scheme = forwarded(request, self.auth.policy.trusted)
            request[SCHEME] = scheme  # for the headers of an answer raised as an exception
            length = request.content_length
            if length is not None and length > self.limit:
                raise web.HTTPRequestEntityTooLarge(max_size=self.limit, actual_size=length)
            request = request.clone(client_max_size=self.limit, remote=remote, scheme=scheme)
            if request.method not in SAFE_METHODS:
                self.check_origin(request)
                await self.check_csrf(request)
            return await handler(request)

        self.middleware = middleware

    def app(self, **kwargs: Any) -> web.Application:
        """An application guarded by this, with the security headers on every answer."""
        return protect(
            web.Application(client_max_size=self.limit, middlewares=[self.middleware], **kwargs)
        )

    def _refuse(self, request: web.Request) -> web.HTTPForbidden:
        lang = negotiate(request.headers.get("Accept-Language"))
        return web.HTTPForbidden(
            text=tr(lang, "This form has expired: reload the page and try again.")
        )

    def check_origin(self, request: web.Request) -> None:
        """A browser says where a request comes from: anything but our own origin (a page
        elsewhere, a sandboxed frame) is refused before the form is read."""
        site = request.headers.get("Sec-Fetch-Site", "")
        if site and site not in ("same-origin", "none"):
            log.warning(
                "%s: %s %s refused: Sec-Fetch-Site %s",
                self.auth.realm,
                request.method,
                request.path,
                site,
            )
            raise self._refuse(request)
        origin = request.headers.get("Origin", "")
        if not origin:
            return
        ours = f"{request.scheme}://{request.host}".lower()
        parts = urlsplit(origin.strip().lower())
        if f"{parts.scheme}://{parts.netloc}" != ours or parts.path not in ("", "/"):
            log.warning(
                "%s: %s %s refused: Origin %r",
                self.auth.realm,
                request.method,
                request.path,
                origin[:100],
            )
            raise self._refuse(request)

    def _public(self, request: web.Request) -> bool:
        path = request.path
        if not path.startswith(self.auth.path):
            return False
        rel = path[len(self.auth.path) :]
        return rel in PUBLIC_FORMS or rel.startswith(PUBLIC_PREFIXES)

    async def check_csrf(self, request: web.Request) -> None:
        given = request.headers.get(CSRF_HEADER, "")
        if not given and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            form = await request.post()
            value = form.get(CSRF_FIELD, "")
            given = value if isinstance(value, str) else ""
        session = await self.auth.current(request, pending_ok=True)
        if given and session is not None and hmac.compare_digest(given, session.csrf):
            return
        # The forms shown before a login take the pre-session token, and only they.
        if self._public(request) and self.auth.pre_ok(request, given):
            return
        raise self._refuse(request)
