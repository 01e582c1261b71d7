"""The one explicit route table, and the routes the dialplan asks for.

A test checks dialplan_routes(every template) <= route_table keys, so a dialplan that calls a
route nobody registered fails in CI, not on a live call.
"""

from __future__ import annotations

import re

from ivr.agi.server import Handler

_ROUTE_NAME = re.compile(r"[a-z][a-z0-9_-]*")
# AGI(agi://host:port/NAME...) or AGI({{ agi_url }}/NAME...); the host may itself be Jinja.
_AGI_CALL = re.compile(
    r"\bE?AGI\(\s*(?:agi://(?:\{\{.*?\}\}|[^/\s,(){}])*|\{\{.*?\}\})/(?P<name>[^/?,(){}\s]+)",
    re.IGNORECASE,
)


def route_table(*pairs: tuple[str, Handler]) -> dict[str, Handler]:
    """{name: handler}, refusing a duplicate or malformed name at start-up."""
    table: dict[str, Handler] = {}
    for name, handler in pairs:
        if not _ROUTE_NAME.fullmatch(name):
            raise ValueError(f"AGI route name {name!r} must match {_ROUTE_NAME.pattern}")
        if name in table:
            raise ValueError(f"AGI route {name!r} registered twice")
        table[name] = handler
    return table


def dialplan_routes(text: str) -> set[str]:
    """Every route NAME called as AGI(agi://.../NAME...) in dialplan (template) text."""
    return {match.group("name") for match in _AGI_CALL.finditer(text)}
