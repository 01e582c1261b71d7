"""What the relay reads of the SIP a browser sends: the request's method and its From user.

Only the start line and the From header are read (RFC 3261 7.1, 20.20; the compact form `f`);
the message is passed on unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FROM = re.compile(r"^(?:from|f)[ \t]*:(.*)$", re.IGNORECASE | re.MULTILINE)
_TO = re.compile(r"^(?:to|t)[ \t]*:(.*)$", re.IGNORECASE | re.MULTILINE)
_TAG = re.compile(r";\s*tag=", re.IGNORECASE)
_USER = re.compile(r"sips?:([^@;>\s]+)@", re.IGNORECASE)


@dataclass(frozen=True)
class Request:
    method: str
    from_user: str
    # Within a dialog (To has a tag): a dialog Asterisk set up with this phone, where From
    # is whatever the dialog's first request said (a call to the phone: the phone's contact).
    in_dialog: bool


def request_of(text: str) -> Request | None:
    """The request in one WebSocket frame, or None for a response (or no SIP at all)."""
    head, _, _ = text.partition("\r\n")
    parts = head.split(" ")
    if len(parts) != 3 or parts[0].upper().startswith("SIP/") or not parts[2].startswith("SIP/"):
        return None
    headers = text.partition("\r\n\r\n")[0]
    found = _FROM.search(headers)
    user = _USER.search(found.group(1)) if found else None
    to = _TO.search(headers)
    in_dialog = bool(to and _TAG.search(to.group(1)))
    return Request(parts[0].upper(), user.group(1) if user else "", in_dialog)


def is_response(text: str) -> bool:
    return text.startswith("SIP/2.0 ")
