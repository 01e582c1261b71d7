"""The engine's control API on loopback: status and rules reload for `ivr status`/`ivr reload`,
and /metrics for Prometheus."""

from __future__ import annotations

import json
import urllib.request
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ivr.metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from ivr.engine import Engine


def control_app(engine: Engine) -> web.Application:
    async def status(request: web.Request) -> web.Response:
        return web.json_response(engine.status())

    async def reload(request: web.Request) -> web.Response:
        ok, text = engine.reload_rules()
        return web.json_response({"ok": ok, "message": text}, status=200 if ok else 422)

    async def wake(request: web.Request) -> web.Response:
        """Work stored by another process (a ladder, a campaign): its scheduler looks now."""
        woken = engine.services is not None and engine.services.alarms.wake(
            request.match_info["name"]
        )
        return web.json_response({"woken": woken}, status=200 if woken else 404)

    async def metrics(request: web.Request) -> web.Response:
        response = web.Response(body=engine.metrics.text())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    app = web.Application()
    app.router.add_get("/api/status", status)
    app.router.add_post("/api/reload", reload)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/api/wake/{name}", wake)
    for feature in engine.features:
        for prefix, sub in feature.web_apps().items():
            app.add_subapp(prefix, sub)
    return app


async def start_control(engine: Engine) -> web.AppRunner:
    runner = web.AppRunner(control_app(engine), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, engine.settings.bind, engine.settings.ports.http)
    await site.start()
    return runner


def call_engine(bind: str, port: int, path: str, method: str = "GET") -> tuple[int, Any]:
    """A blocking client for the command line."""
    request = urllib.request.Request(f"http://{bind}:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
