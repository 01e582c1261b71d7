"""A client's people (who calls may be put through to) and its screening instructions: what
the loader checks and compiles them into, and the `put_through` step of a chain.

Called by load.Compiler; every problem names FILE:LINE:COL like the rest of the loader.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ivr import dialpolicy
from ivr.routing import spec as s
from ivr.routing.decision import Step
from ivr.routing.model import Person, Screening, Target, Window
from ivr.routing.source import Where

if TYPE_CHECKING:
    from ivr.dialpolicy import DialPolicy
    from ivr.routing.model import Client

Report = Callable[[Where, str], None]
ACTIONS = ("always", "never", "urgent")


def people(spec: s.ClientSpec, error: Report) -> dict[str, Person]:
    out: dict[str, Person] = {}
    for person_id, person in spec.people.items():
        if not person.numbers:
            error(person.where("numbers"), f"person {person_id!r} has no numbers to ring")
        if person.ring <= 0:
            error(person.where("ring"), "ring: must be more than 0")
        out[person_id] = Person(
            person_id,
            person.name,
            person.role,
            person.numbers,
            person.languages,
            max(person.ring, 1),
        )
    return out


def screening(
    spec: s.ClientSpec,
    callers: Mapping[str, tuple[set[str], list[str]]],
    found: Mapping[str, Person],
    error: Report,
) -> tuple[Screening, ...]:
    out = []
    for entry in spec.screening:
        exact: set[str] = set()
        prefixes: list[str] = []
        for i, name in enumerate(entry.callers):
            if name not in callers:
                known = ", ".join(sorted(callers)) or "none"
                error(entry.where(f"callers[{i}]"), f"unknown caller list {name!r}; known: {known}")
                continue
            exact.update(callers[name][0])
            prefixes.extend(callers[name][1])
        if entry.to is not None and entry.to not in found:
            known = ", ".join(sorted(found)) or "none"
            error(entry.where("to"), f"unknown person {entry.to!r}; known: {known}")
        if entry.action == "always" and entry.to is None:
            error(entry.at, "an 'always' screening says who they are put through to (to:)")
        out.append(
            Screening(
                entry.callers,
                frozenset(exact),
                tuple(sorted(set(prefixes), key=len, reverse=True)),
                entry.action,
                entry.to if entry.to in found else None,
                entry.why,
            )
        )
    return tuple(out)


def targets(person: Person, timeout: int | None, window: Window | None) -> list[Target]:
    """A put_through step: one forward step per number of the person, in order."""
    ring = timeout if timeout is not None else person.ring
    return [
        Target(Step(kind="forward", number=number, timeout=ring, person=person.id), window)
        for number in person.numbers
    ]


def dial_warnings(
    policy: DialPolicy,
    clients: Mapping[str, Client],
    specs: Mapping[str, s.ClientSpec],
    warn: Report,
) -> None:
    """A person's number the dial policy refuses: said now, not when a caller waits."""
    for client_id, client in clients.items():
        own = policy.merged(client.dial_allow, client.dial_deny)
        for person_id, person in client.people.items():
            person_spec = specs[client_id].people[person_id]
            for i, number in enumerate(person.numbers):
                verdict = dialpolicy.check(own, number)
                if not verdict:
                    warn(person_spec.where(f"numbers[{i}]"), f"never rung: {verdict.reason}")
