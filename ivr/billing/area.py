"""The billing page of the client's area (its admins): the month's statement with each
result's evidence and how far the next band is, the printable page and the CSV, contests,
and the payments the client confirms. Only the client's own: every query is given its id."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.web_request import FileField

from ivr import bounds
from ivr.area.pages import Page
from ivr.billing import audit, disputes, payments, render, statement
from ivr.billing.form import visit_outcome_labels
from ivr.billing.results import Month, find, parse_key
from ivr.campaigns.importer import parse_day, parse_money
from ivr.campaigns.model import DIALER_WAKE, Campaign
from ivr.campaigns.models import Attempt
from ivr.i18n import tr

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
MONTHS_SHOWN = 12


class BillingPage(Page):
    slug = "billing"
    title = "Billing"
    admin_only = True
    templates = HERE / "templates"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/billing", self.show),
            web.get("/billing/statement.csv", self.csv),
            web.get("/billing/statement/print", self.printable),
            web.get("/billing/results/{result}", self.result),
            web.post("/billing/results/{result}/contest", self.contest),
            web.get("/billing/recordings/{attempt_id}", self.recording),
            web.get("/billing/payments", self.payments),
            web.post("/billing/payments/import", self.import_payments),
            web.post("/billing/payments/{attempt_id}", self.confirm),
        ]

    @property
    def sessions(self) -> Any:
        return self.area.services.sessions

    def campaigns(self) -> list[Campaign]:
        services = self.area.services
        found = services.campaigns() if services.campaigns is not None else None
        return list(found.by_id.values()) if found is not None else []

    def link(self, key: str) -> str:
        return f"{self.area.prefix}/billing/results/{key}"

    def _month(self, request: web.Request, zone: str) -> Month:
        try:
            return Month.parse(request.query.get("month", ""))
        except ValueError:
            return Month.containing(self.area.services.clock(), zone)

    async def _view(self, request: web.Request) -> tuple[Any, statement.View]:
        ctx = await self.area.ctx(request, admin=True)
        month = self._month(request, ctx.zone)
        view = await statement.statement(
            self.sessions, self.campaigns(), ctx.client_id, ctx.client.name, ctx.zone, month,
            self.area.services.clock(),
        )  # fmt: skip
        return ctx, view

    # -- the statement ---------------------------------------------------------------------

    async def show(self, request: web.Request) -> web.Response:
        ctx, view = await self._view(request)
        issued = await statement.issued_months(self.sessions, ctx.client_id)
        current = Month.containing(self.area.services.clock(), ctx.zone)
        months = [current]
        for _ in range(MONTHS_SHOWN - 1):
            months.append(months[-1].previous())
        choices = [(str(m), str(m) in issued) for m in months]
        return await self.area.page(
            request, ctx, "area_billing.html", view=view, months=choices, link=self.link,
            **render.helpers(ctx.lang),
        )  # fmt: skip

    async def csv(self, request: web.Request) -> web.Response:
        ctx, view = await self._view(request)
        body = render.csv_text(view, ctx.lang).encode("utf-8-sig")
        response = web.Response(body=body, content_type="text/csv", charset="utf-8")
        name = f"{ctx.client_id}-{view.month}.csv"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        response.headers["Cache-Control"] = "private, no-store"
        return response

    async def printable(self, request: web.Request) -> web.Response:
        ctx, view = await self._view(request)
        return web.Response(text=render.printable(view, ctx.lang), content_type="text/html")

    # -- one result: its evidence, and the contest -------------------------------------------

    async def _result(self, request: web.Request) -> tuple[Any, Month, Any]:
        ctx = await self.area.ctx(request, admin=True)
        key = request.match_info["result"]
        if parse_key(key) is None:
            raise web.HTTPNotFound()
        async with self.sessions() as session:
            found = await find(session, self.campaigns(), ctx.client_id, key, ctx.zone,
                               self.area.services.clock())  # fmt: skip
        if found is None:
            raise web.HTTPNotFound()
        return ctx, found[0], found[1]

    async def result(self, request: web.Request, status: int = 200, error: str = "",
                     form: dict[str, str] | None = None) -> web.Response:  # fmt: skip
        ctx, month, result = await self._result(request)
        now = self.area.services.clock()
        campaigns = self.campaigns()
        evidence = await disputes.report(self.sessions, campaigns, ctx.client_id, ctx.zone, now,
                                         key=result.key)  # fmt: skip
        async with self.sessions() as session:
            booking = await session.get(Attempt, result.attempt_id)
            check = result.verification
            call = await session.get(Attempt, check.attempt_id) if check and check.attempt_id \
                else None  # fmt: skip
            issued_row = await statement.issued(session, ctx.client_id, month)
            log_entries = await audit.entries(session, ctx.client_id, [result.key])
        by_id = {c.id: c for c in campaigns}
        blocked = disputes.why_not(result, issued_row, by_id, now, ctx.lang)
        until = disputes.contest_until(result, issued_row, by_id)
        return await self.area.page(
            request, ctx, "area_result.html", status, result=result, month=str(month),
            booking=booking, check=check, call=call, evidence=evidence[0] if evidence else None,
            log=log_entries if not evidence else evidence[0].log, blocked=blocked, until=until,
            reasons=disputes.reason_labels(ctx.lang), visit=visit_outcome_labels(ctx.lang),
            error=error, form=form or {}, filed=request.query.get("filed", ""),
            verdict=(disputes.verdict_text(evidence[0], ctx.lang) if evidence else ""),
            **render.helpers(ctx.lang),
        )  # fmt: skip

    async def contest(self, request: web.Request) -> web.Response:
        ctx, _, result = await self._result(request)
        data = await request.post()
        reason, note = str(data.get("reason", "")), str(data.get("note", ""))
        _, problem = await disputes.file(
            self.sessions, self.campaigns(), ctx.client_id, ctx.zone, result.key, reason, note,
            ctx.user.email, self.area.services.clock(), ctx.lang,
        )  # fmt: skip
        if problem is not None:
            return await self.result(request, 422, problem, {"reason": reason, "note": note})
        await self.area.services.wake.send(DIALER_WAKE)  # its verification call goes first
        raise web.HTTPSeeOther(f"{self.link(result.key)}?filed=1")

    async def recording(self, request: web.Request) -> web.StreamResponse:
        """A booking or verification call's recording, of this client's campaigns only."""
        ctx = await self.area.ctx(request, admin=True)
        attempt_id = bounds.row_id(request.match_info["attempt_id"])
        if attempt_id is None:
            raise web.HTTPNotFound()
        async with self.sessions() as session:
            attempt = await session.get(Attempt, attempt_id)
        if attempt is None or attempt.client_id != ctx.client_id:
            raise web.HTTPNotFound()
        return self.sound_file(attempt.recording_path, "recordings")

    # -- payments ------------------------------------------------------------------------------

    async def payments(self, request: web.Request, status: int = 200, error: str = "",
                       report: payments.ImportReport | None = None) -> web.Response:  # fmt: skip
        ctx = await self.area.ctx(request, admin=True)
        listed = await payments.promises(self.sessions, self.campaigns(), ctx.client_id)
        today = self.area.services.clock().astimezone(ZoneInfo(ctx.zone)).date()
        return await self.area.page(
            request, ctx, "area_payments.html", status, promises=listed, error=error,
            report=report, today=today, saved=request.query.get("saved", ""),
        )  # fmt: skip

    async def confirm(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request, admin=True)
        attempt_id = bounds.row_id(request.match_info["attempt_id"])
        if attempt_id is None:
            raise web.HTTPNotFound()
        mine = {p.attempt_id for p in await payments.promises(self.sessions, self.campaigns(),
                                                              ctx.client_id)}  # fmt: skip
        if attempt_id not in mine:
            raise web.HTTPNotFound()
        data = await request.post()
        try:
            amount = parse_money(str(data.get("amount", "")))
            paid_on: date = parse_day(str(data.get("paid_on", "")))
        except ValueError:
            error = tr(ctx.lang, "Give the amount paid (such as 120,50) and the day (31/12/2026).")
            return await self.payments(request, 422, error)
        problem, _ = await payments.confirm_one(
            self.sessions, self.campaigns(), ctx.client_id, attempt_id, amount, paid_on,
            ctx.user.email, "area", self.area.services.clock(), ctx.zone, ctx.lang,
        )  # fmt: skip
        if problem is not None:
            return await self.payments(request, 422, problem)
        raise web.HTTPSeeOther(f"{self.area.prefix}/billing/payments?saved={attempt_id}")

    async def import_payments(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request, admin=True)
        data = await request.post()
        upload = data.get("file")
        if not isinstance(upload, FileField):
            return await self.payments(request, 422, tr(ctx.lang, "Choose a CSV file."))
        raw = upload.file.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
        report = await payments.import_payments(
            self.sessions, self.campaigns(), ctx.client_id, text, upload.filename or "file.csv",
            ctx.user.email, self.area.services.clock(), ctx.zone, ctx.lang,
        )  # fmt: skip
        return await self.payments(request, 200 if not report.bad else 422, report=report)
