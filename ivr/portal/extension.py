"""The console's public interface to the features that add to it (the outbound card, putting
callers through): what the console offers them (`Console`), and what they give it
(`ConsoleExtension`, registered with Portal.extend)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from aiohttp import web

    from ivr.portal.access import Login
    from ivr.portal.board import Board, Live
    from ivr.portal.occupancy import Tally
    from ivr.portal.store import Outcome
    from ivr.records.repo import CallRecord


class Console(Protocol):
    """The operators' console as another feature uses it."""

    prefix: str  # where the console is served: /console

    @property
    def board(self) -> Board:
        """What each operator is doing (the desk's state)."""

    @property
    def tally(self) -> Tally:
        """Today's logged-in and busy time of each operator, and the busy time of each call."""

    async def login_of(self, request: web.Request) -> Login | None:
        """Who is logged in on this request (an operator or the supervisor), or None."""

    async def operator_login(self, request: web.Request) -> Login:
        """The operator of this request; a redirect to the login page if it is not one."""

    async def posted_form(self, request: web.Request, login: Login) -> dict[str, str]:
        """The posted form's text fields (its CSRF token already checked)."""

    async def console_page(
        self, login: Login, request: web.Request, panel_html: str | None = None,
        status: int = 200, problem: str = "", saved: str = "",
    ) -> web.Response:  # fmt: skip
        """The console page, with another feature's card in the panel or a problem shown."""

    async def escalate(self, call: CallRecord, outcome: Outcome, ladder: str | None = None) -> str:
        """Start `ladder` (by default the client's first) for an urgent call; say what
        happened."""

    def may_write(self, operator: str, live: Live, call: CallRecord | None) -> bool:
        """Whether this operator may write down the outcome of `call` (theirs, or just over)."""

    async def pause(self, operator: str, paused: bool, reason: str) -> str | None:
        """Pause or unpause the operator in every queue; an error message, or None."""

    async def end_wrapup(self, operator: str, linkedid: str) -> None:
        """The outcome of `linkedid` is written down: the wrap-up rules of an inbound call."""

    def extend(self, extension: ConsoleExtension) -> None:
        """Add a feature's part to the console (before its app is built)."""


class ConsoleExtension(Protocol):
    """A feature's part of the console: its routes, its card in place of the inbound one,
    what it adds to the inbound card, told when an operator logs in, out or changes state."""

    def add_routes(self, app: web.Application) -> None: ...

    async def panel(self, login: Login, live: Live, request: web.Request | None) -> str | None:
        """The feature's card in the console's panel, or None: the inbound one."""

    async def card(self, login: Login, live: Live, call: CallRecord) -> str | None:
        """What the feature adds to the inbound call's card, or None."""

    def desk_changed(self, operator: str) -> None: ...


@runtime_checkable
class SupervisorExtension(Protocol):
    """A feature that adds its figures to the supervisor's page, and claims its share of the
    operators' busy time (the rest is inbound's)."""

    async def supervisor_part(self, login: Login) -> str:
        """The feature's section of the supervisor page: HTML, every value escaped."""

    def busy_today(self) -> float:
        """Seconds of today's busy time (the console's tally) spent on this feature's calls."""
