"""The operator console and the supervisor page (aiohttp + Jinja2, served by the engine)."""

from ivr.portal.app import Portal
from ivr.portal.auth import portal_password

__all__ = ["Portal", "portal_password"]
