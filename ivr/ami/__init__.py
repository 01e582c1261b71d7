"""AMI: one self-reconnecting connection to Asterisk; events in, actions out."""

from ivr.ami.client import AmiActionError, AmiClient, AmiDisconnected, AmiError
from ivr.ami.message import Message, encode, parse

__all__ = [
    "AmiActionError",
    "AmiClient",
    "AmiDisconnected",
    "AmiError",
    "Message",
    "encode",
    "parse",
]
