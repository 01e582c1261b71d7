"""The one explicit table that maps AGI route names to their modules.

A duplicate or unknown name fails at start-up; tests/unit/test_routes.py checks that every
AGI(agi://.../NAME) in dialplan/ has its NAME here.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from agi_scripts import escalation, inbound, putthrough, putthrough_direct
from ivr.agi.routes import route_table

if TYPE_CHECKING:
    from ivr.agi.server import Handler
    from ivr.services import Services


def routes(services: Services) -> dict[str, Handler]:
    return route_table(
        ("inbound", partial(inbound.handle, services=services)),
        ("escalation", partial(escalation.handle, services=services)),
        ("putthrough", partial(putthrough.handle, services=services)),
        ("putthrough_direct", partial(putthrough_direct.handle, services=services)),
    )
