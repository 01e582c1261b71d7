"""The script in the client's area: its admin rewrites what the operator says at each step
(the steps, fields and branches stay as the rules file has them), versioned and audited like
the card's instructions."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from ivr.area.pages import Page
from ivr.i18n import tr
from ivr.scripts import texts
from ivr.selfservice.store import history, save


class ScriptPage(Page):
    slug = "script"
    title = "Script"
    admin_only = True
    templates = Path(__file__).resolve().parent / "templates"

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/script", self.show), web.post("/script", self.edit)]

    async def show(
        self, request: web.Request, status: int = 200, errors: dict[str, str] | None = None,
        typed: dict[str, str] | None = None,
    ) -> web.Response:  # fmt: skip
        ctx = await self.area.ctx(request, admin=True)
        script = ctx.client.script
        if script is None:
            raise web.HTTPNotFound()
        sessions = self.area.services.sessions
        says = await texts.says_for(sessions, ctx.client_id)
        return await self.area.page(
            request, ctx, "area_script.html", status,
            steps=list(script.steps.values()), says={**says, **(typed or {})},
            fields=script.fields, errors=errors or {},
            versions=await history(sessions, ctx.client_id, texts.KIND),
            saved=request.query.get("saved", ""),
        )  # fmt: skip

    async def edit(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request, admin=True)
        script = ctx.client.script
        if script is None:
            raise web.HTTPNotFound()
        form = await request.post()
        typed = {s: str(form.get(f"say-{s}", "")).replace("\r\n", "\n") for s in script.steps}
        errors: dict[str, str] = {}
        messages = {
            "long": tr(ctx.lang, "At most %(most)d characters.", most=texts.SAY_MAX),
            "control": tr(ctx.lang, "No control characters."),
            "placeholder": tr(
                ctx.lang, "Placeholders are {operator}, {caller} or a field of the script."
            ),
        }
        for step_id, text in typed.items():
            code = texts.problem(script, text)
            if code:
                errors[step_id] = messages[code]
        if errors:
            return await self.show(request, 422, errors, typed)
        changed = {s: t for s, t in typed.items() if t != script.steps[s].say}
        sessions = self.area.services.sessions
        now = self.area.services.clock()
        await save(sessions, ctx.client_id, texts.KIND, "", {"say": changed}, ctx.user.email, now)
        raise web.HTTPSeeOther(f"{self.area.prefix}/script?saved=1")
