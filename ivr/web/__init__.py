"""Web sessions and logins shared by every page the engine serves (the operator console and
the client area): server-side sessions with idle and absolute expiry, logout everywhere,
throttled logins, CSRF on every form, Secure cookies over HTTPS, and a body limit per app."""

from ivr.web.auth import Guard, WebAuth, WebSession

__all__ = ["Guard", "WebAuth", "WebSession"]
