"""The security headers of every answer the engine's web apps give: pages, downloads,
recordings, redirects, errors and event streams alike, set in one place (`protect(app)`, an
on_response_prepare hook, so that a stream prepared by its handler gets them too).

- Content-Security-Policy: our own scripts and styles only; no framing (frame-ancestors),
  forms post only to us (form-action), no <base> and no plugins.
- nosniff on everything: a CSV or a recording is never run as a page.
- Cache-Control no-store on everything but the static files: pages and downloads carry
  clients' data, a shared or back-button cache must not keep them.
- HSTS when the request came over HTTPS (directly or from a trusted proxy).
"""

from __future__ import annotations

from aiohttp import web

SCHEME = web.RequestKey("scheme", str)  # the scheme the client used, once the proxy is read

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; media-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HSTS = "max-age=31536000"
STATIC = "/static/"


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    h = response.headers
    h["X-Content-Type-Options"] = "nosniff"
    h["Content-Security-Policy"] = CSP
    h["X-Frame-Options"] = "DENY"
    h["Referrer-Policy"] = "same-origin"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    if STATIC not in request.path:
        h["Cache-Control"] = "no-store"
    if request.get(SCHEME, request.scheme) == "https":
        h["Strict-Transport-Security"] = HSTS


def protect(app: web.Application) -> web.Application:
    """Give every answer of app (and of its sub-apps' routes) the security headers."""
    if _headers not in app.on_response_prepare:
        app.on_response_prepare.append(_headers)
    return app
