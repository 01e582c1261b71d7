"""The calls page: the client's calls and messages with filters and pages, one message with
its recording (HTTP Range, so the player can seek), read/handled with a note, and the
filtered list as CSV or XLSX."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ivr import tables
from ivr.area import query
from ivr.area.pages import Page
from ivr.i18n import local_datetime, tr
from ivr.records import fields, recordings

if TYPE_CHECKING:
    from ivr.area.app import Ctx

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def outcome_label(lang: str, outcome: str) -> str:
    labels = {
        "answered": tr(lang, "answered"),
        "message-left": tr(lang, "message left"),
        "abandoned": tr(lang, "abandoned"),
        "failed": tr(lang, "failed"),
        "in-progress": tr(lang, "in progress"),
    }
    return labels.get(outcome, outcome)


def category_label(lang: str, category: str) -> str:
    labels = {
        "message": tr(lang, "message"),
        "callback": tr(lang, "call back"),
        "appointment": tr(lang, "appointment"),
        "order": tr(lang, "order"),
        "complaint": tr(lang, "complaint"),
        "other": tr(lang, "other"),
    }
    return labels.get(category, category)


class CallsPage(Page):
    slug = "calls"
    title = "Calls and messages"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/calls", self.listing),
            web.get("/calls.csv", self.csv),
            web.get("/calls.xlsx", self.xlsx),
            web.get("/calls/{linkedid}", self.message),
            web.get("/calls/{linkedid}/recording", self.recording),
            web.post("/calls/{linkedid}/read", self.mark_read),
            web.post("/calls/{linkedid}/handled", self.mark_handled),
        ]

    @property
    def sessions(self) -> Any:
        return self.area.services.sessions

    async def listing(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request)
        filters = query.Filters.read(request.query)
        before = request.query.get("before", "")
        rows, next_cursor = await query.page(
            self.sessions, ctx.client_id, filters, ctx.zone, before=before
        )
        now = self.area.services.clock()
        name = "calls_rows.html" if request.query.get("part") == "rows" else "calls.html"
        return await self.area.page(
            request,
            ctx,
            name,
            rows=rows,
            filters=filters,
            params=filters.params(),
            next_cursor=next_cursor,
            first=not before,
            today=now,
            outcomes=query.OUTCOMES,
            outcome_label=outcome_label,
            category_label=category_label,
        )

    async def _row(self, request: web.Request, ctx: Ctx) -> query.Row:
        row = await query.one(self.sessions, ctx.client_id, request.match_info["linkedid"])
        if row is None:
            raise web.HTTPNotFound()
        return row

    async def message(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request)
        # Showing changes nothing (a GET never does: a prefetch, a link in a mail or an <img>
        # elsewhere must not mark a message read); the page's script posts /read when a person
        # has it open, and the buttons post the rest.
        row = await self._row(request, ctx)
        return await self.area.page(
            request,
            ctx,
            "call.html",
            row=row,
            outcome_label=outcome_label,
            category_label=category_label,
            saved=request.query.get("saved", ""),
        )

    async def recording(self, request: web.Request) -> web.StreamResponse:
        ctx = await self.area.ctx(request)
        path = await query.recording_path(
            self.sessions, ctx.client_id, request.match_info["linkedid"]
        )
        try:
            return self.sound_file(path, "messages")
        except web.HTTPNotFound:
            # recorded on another node (maybe gone): the shared database's copy
            data = await recordings.fetch(self.sessions, path) if path else None
            if data is None:
                raise
            return web.Response(body=data, headers={
                "Content-Type": "audio/wav", "Cache-Control": "private, no-store",
                "Content-Disposition": "inline"})  # fmt: skip

    async def mark_read(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request)
        row = await self._row(request, ctx)
        form = await request.post()
        await query.mark(
            self.sessions,
            ctx.client_id,
            row.linkedid,
            self.area.services.clock(),
            ctx.user.email,
            read=form.get("read") != "0",
        )
        await self.area.tell_client(ctx.client_id)
        raise web.HTTPSeeOther(f"{self.area.prefix}/calls/{row.linkedid}")

    async def mark_handled(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request)
        row = await self._row(request, ctx)
        form = await request.post()
        note = str(form.get("note", "")).strip()
        if len(note) > query.NOTE_MAX:
            raise web.HTTPBadRequest(
                text=tr(ctx.lang, "At most %(most)d characters.", most=query.NOTE_MAX)
            )
        await query.mark(
            self.sessions,
            ctx.client_id,
            row.linkedid,
            self.area.services.clock(),
            ctx.user.email,
            handled=form.get("handled") != "0",
            note=note,
        )
        await self.area.tell_client(ctx.client_id)
        raise web.HTTPSeeOther(f"{self.area.prefix}/calls/{row.linkedid}?saved=1")

    # -- exports ---------------------------------------------------------------------------

    def _table(self, ctx: Ctx, rows: list[query.Row]) -> list[list[str]]:
        lang = ctx.lang
        head = [
            tr(lang, "When"),
            tr(lang, "Caller"),
            tr(lang, "Number"),
            tr(lang, "Outcome"),
            tr(lang, "Category"),
            tr(lang, "Urgent"),
            tr(lang, "Message"),
            tr(lang, "Callback number"),
            tr(lang, "Read"),
            tr(lang, "Handled"),
            tr(lang, "Note"),
        ]
        yes = tr(lang, "yes")
        body = [
            [
                local_datetime(r.arrived_at, ctx.zone, lang, "short"),
                r.who or tr(lang, "unknown caller"),  # as the list shows them
                r.caller_number or tr(lang, "withheld"),
                outcome_label(lang, r.outcome),
                category_label(lang, r.category) if r.category else "",
                yes if r.urgent else "",
                r.message,
                r.callback,
                yes if r.read else "",
                yes if r.handled else "",
                r.note,
            ]
            for r in rows
        ]
        # One column per field the clients' scripts asked, in the order first met.
        extra = fields.columns([r.answers for r in rows])
        head += [label for _, label in extra]
        for line, r in zip(body, rows, strict=True):
            given = {a.field: a.shown for a in r.answers}
            line += [given.get(name, "") for name, _ in extra]
        return [head, *body]

    async def _export(self, request: web.Request) -> tuple[Ctx, list[list[str]]]:
        ctx = await self.area.ctx(request)
        filters = query.Filters.read(request.query)
        rows = await query.export(self.sessions, ctx.client_id, filters, ctx.zone)
        return ctx, self._table(ctx, rows)

    async def csv(self, request: web.Request) -> web.Response:
        _, table = await self._export(request)
        body = tables.csv_text(table).encode("utf-8-sig")
        return _download(body, "text/csv; charset=utf-8", "csv")

    async def xlsx(self, request: web.Request) -> web.Response:
        _, table = await self._export(request)
        return _download(await asyncio.to_thread(tables.xlsx_bytes, table), XLSX, "xlsx")


def _download(body: bytes, content_type: str, ext: str) -> web.Response:
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    response.headers["Content-Disposition"] = f'attachment; filename="calls.{ext}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
