"""The client's team, for its admins: who has an account, invite a colleague (who gets an
email to set a password), remove one."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ivr import bounds
from ivr.area import users
from ivr.area.models import ROLES
from ivr.area.pages import Page
from ivr.i18n import tr
from ivr.selfservice import store as edits


class TeamPage(Page):
    slug = "team"
    title = "Team"
    admin_only = True

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/team", self.show),
            web.post("/team/invite", self.invite),
            web.post("/team/{user_id}/remove", self.remove),
        ]

    @property
    def sessions(self) -> Any:
        return self.area.services.sessions

    async def show(self, request: web.Request, status: int = 200, error: str = "") -> web.Response:
        ctx = await self.area.ctx(request, admin=True)
        team = await users.of_client(self.sessions, ctx.client_id)
        return await self.area.page(
            request,
            ctx,
            "team.html",
            status,
            team=team,
            roles=ROLES,
            error=error,
            invited=request.query.get("invited", ""),
        )

    async def invite(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request, admin=True)
        form = await request.post()
        role = str(form.get("role", "member"))
        language = str(form.get("language", ctx.lang))
        try:
            user = await users.add_user(
                self.sessions,
                ctx.client_id,
                str(form.get("email", "")),
                users.new_password(),  # never told: the invitee sets one through the link
                self.area.services.clock(),
                role=role if role in ROLES else "member",
                name=str(form.get("name", "")),
                language=language,
            )
        except users.AccountError:
            error = tr(
                ctx.lang,
                "This address cannot be invited: it is not an email address, or it already "
                "has an account.",
            )
            return await self.show(request, 422, error)
        await self.area.send_reset(user)
        await edits.audit(
            self.sessions,
            ctx.client_id,
            ctx.user.email,
            "user.invite",
            {"email": user.email, "role": user.role},
            self.area.services.clock(),
        )
        raise web.HTTPSeeOther(f"{self.area.prefix}/team?invited=1")

    async def remove(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request, admin=True)
        user_id = bounds.row_id(request.match_info["user_id"])
        if user_id is None:
            raise web.HTTPNotFound()
        user = await users.get(self.sessions, user_id)
        if user is None or user.client_id != ctx.client_id:
            raise web.HTTPNotFound()
        if user.id == ctx.user.id:
            return await self.show(request, 422, tr(ctx.lang, "You cannot remove yourself."))
        await users.remove(self.sessions, user.id)
        await self.area.auth.end_all(str(user.id))
        await edits.audit(
            self.sessions,
            ctx.client_id,
            ctx.user.email,
            "user.remove",
            {"email": user.email},
            self.area.services.clock(),
        )
        raise web.HTTPSeeOther(f"{self.area.prefix}/team")
