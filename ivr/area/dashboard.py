"""The dashboard: calls per day and per hour of the day (answered, message, abandoned), the
busiest hours, and this month against last month.

Charts are SVG drawn on the server by pygal (a maintained charting library): they are part of
the page, so they need no script, run under the area's Content-Security-Policy as they are,
show in any browser (and in the screenshots), and print.
"""

from __future__ import annotations

import re
from typing import Any

import pygal
from aiohttp import web
from markupsafe import Markup
from pygal.style import Style

from ivr.area import query
from ivr.area.pages import Page
from ivr.i18n import local_date, tr

_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)
STYLE = Style(
    background="transparent",
    plot_background="transparent",
    colors=("#2f7d32", "#1f5fa8", "#b3261e"),
    font_family="system-ui, sans-serif",
    label_font_size=11,
    major_label_font_size=11,
    legend_font_size=12,
)


def _chart(kind: Any, title: str, labels: list[str], series: dict[str, list[int]]) -> Markup:
    chart = kind(
        width=720,
        height=300,
        style=STYLE,
        js=[],  # no script: the page's policy allows none, and the chart needs none
        disable_xml_declaration=True,
        explicit_size=False,
        legend_at_bottom=True,
        show_minor_x_labels=False,
        x_label_rotation=0,
        title=title,
        print_values=False,
    )
    chart.x_labels = labels
    chart.x_labels_major = labels[:: max(1, len(labels) // 10)]
    for name, values in series.items():
        chart.add(name, values)
    # pygal writes its tooltip settings in an inline <script> even with no script to read
    # them: dropped, so that nothing on the page breaks the policy.
    svg = _SCRIPT.sub("", chart.render(is_unicode=True))
    return Markup(svg)  # noqa: S704 (pygal's own markup; labels and titles escaped by it)


class DashboardPage(Page):
    slug = "dashboard"
    title = "Dashboard"

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/dashboard", self.show)]

    async def show(self, request: web.Request) -> web.Response:
        ctx = await self.area.ctx(request)
        now = self.area.services.clock()
        stats = await query.stats(self.area.services.sessions, ctx.client_id, ctx.zone, now)
        lang = ctx.lang
        names = {
            "answered": tr(lang, "answered"),
            "message": tr(lang, "message"),
            "abandoned": tr(lang, "abandoned"),
        }
        per_day = _chart(
            pygal.StackedBar,
            tr(lang, "Calls per day"),
            [local_date(day, lang, "d/M") for day, _ in stats.days],
            {names[g]: [counts[g] for _, counts in stats.days] for g in query.GROUPS},
        )
        per_hour = _chart(
            pygal.Bar,
            tr(lang, "Calls per hour of the day (last 30 days)"),
            [f"{h:02d}" for h in range(24)],
            {tr(lang, "calls"): stats.hours},
        )
        return await self.area.page(
            request,
            ctx,
            "dashboard.html",
            stats=stats,
            names=names,
            per_day=per_day,
            per_hour=per_hour,
            groups=query.GROUPS,
        )
