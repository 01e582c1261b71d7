"""What the parts of the rules' Compiler share: the context of one client's rules, and the
message for a reference to something not defined."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ivr.routing import spec as s
from ivr.routing.model import Person, Prompt


@dataclass(frozen=True)
class ClientContext:
    """What the rules of one client are compiled against."""

    id: str
    rel: str
    spec: s.ClientSpec
    prompts: dict[str, Prompt]
    callers: dict[str, tuple[set[str], list[str]]]  # list name -> (numbers, prefixes)
    people: dict[str, Person]


def unknown(kind: str, name: str, known: Iterable[str], extra: str = "") -> str:
    """The message for a reference to nothing: what is known instead."""
    names = sorted(known)
    listed = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    tail = f"; known: {listed}" if names else f"; no {kind}s are defined"
    return f"unknown {kind} {name!r}{tail}{' ' + extra if extra else ''}"
