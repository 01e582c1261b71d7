"""FastAGI: the wire protocol, the call object, the server and the route table."""

from ivr.agi.call import AgiCall
from ivr.agi.protocol import (
    AgiCommandError,
    AgiError,
    AgiHangup,
    AgiTimeout,
    Reply,
    format_command,
    parse_env,
    parse_reply,
    quote,
)
from ivr.agi.routes import dialplan_routes, route_table
from ivr.agi.server import AgiServer, Handler

__all__ = [
    "AgiCall",
    "AgiCommandError",
    "AgiError",
    "AgiHangup",
    "AgiServer",
    "AgiTimeout",
    "Handler",
    "Reply",
    "dialplan_routes",
    "format_command",
    "parse_env",
    "parse_reply",
    "quote",
    "route_table",
]
