"""The engine's control API on loopback: status and rules reload for `ivr status`/`ivr reload`,
wake-ups from commands and other engines, and /metrics for Prometheus.

They share the HTTP port with the console and the client area, so a browser on that port (or
a page elsewhere posting to it) could reach them: every control route wants the engine's
control token as a bearer token (`Authorization: Bearer <control_token>`), the way Prometheus
sends one from `authorization.credentials_file`. A request without it gets 401 and nothing
else: no status, no figure, no state changed.
"""

from __future__ import annotations

import hmac
import json
import urllib.request
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ivr.metrics import CONTENT_TYPE
from ivr.web.headers import protect

if TYPE_CHECKING:
    from ivr.config import Settings
    from ivr.engine import Engine

CONTROL_PATHS = ("/api/", "/metrics")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bearer(token: str) -> dict[str, str]:
    """The header a control request carries."""
    return {"Authorization": f"Bearer {token}"}


def authorised(request: web.Request, token: str) -> bool:
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    return (
        bool(token)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(value.strip().encode(), token.encode())
    )


def token_middleware(token: str, prefixes: tuple[str, ...]) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if any(path == p.rstrip("/") or path.startswith(p) for p in prefixes) and not authorised(
            request, token
        ):
            raise web.HTTPUnauthorized(
                text="the control API wants the engine's control token\n",
                headers={"WWW-Authenticate": 'Bearer realm="ivr-control"'},
            )
        return await handler(request)

    return middleware


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

    prefixes = list(CONTROL_PATHS)
    for feature in engine.features:
        prefixes.extend(f"{prefix}/" for prefix in feature.control_apps())
    app = protect(
        web.Application(
            middlewares=[token_middleware(engine.settings.control_token, tuple(prefixes))]
        )
    )
    app.router.add_get("/api/status", status)
    app.router.add_post("/api/reload", reload)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/api/wake/{name}", wake)
    for feature in engine.features:
        for prefix, sub in feature.control_apps().items():
            app.add_subapp(prefix, sub)
        for prefix, sub in feature.web_apps().items():
            app.add_subapp(prefix, sub)
    return app


async def start_control(engine: Engine) -> web.AppRunner:
    runner = web.AppRunner(control_app(engine), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, engine.settings.bind, engine.settings.ports.http)
    await site.start()
    return runner


def call_engine(
    settings: Settings, path: str, method: str = "GET", port: int = 0
) -> tuple[int, Any]:
    """A blocking client for the command line (port: another engine's than settings')."""
    url = f"http://{settings.bind}:{port or settings.ports.http}{path}"
    request = urllib.request.Request(url, method=method, headers=bearer(settings.control_token))
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body or b"null")
        except ValueError:
            return exc.code, body.decode(errors="replace")
