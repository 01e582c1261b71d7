"""What the loader checks so that rules cannot reach past their place: ids that Asterisk's
files or the console already use, the outbound dial policy, and personal-data retention.

Called by load.Compiler; every problem names FILE:LINE:COL like the rest of the loader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ivr import dialpolicy
from ivr.dialpolicy import DialPolicy
from ivr.routing import spec as s
from ivr.routing.model import Retention
from ivr.routing.source import Where

if TYPE_CHECKING:
    from ivr.routing.model import Client, Ladder  # noqa: F401

# Names Asterisk's rendered config or the console already give a meaning (any case): an
# operator or endpoint named `trunk` would be a second section of the carrier's trunk in
# pjsip.conf, `supervisor` the console's supervisor, `general` the [general] of queues.conf.
RESERVED_OPERATORS = frozenset(
    {"trunk", "supervisor", "global", "system", "transport-udp", "anonymous"}
)
RESERVED_GROUPS = frozenset({"general"})
RESERVED_CLIENTS = frozenset({"unrouted"})  # the message folder of unknown numbers

Report = Callable[[Where, str], None]


def reserved(
    kind: str, names: Iterable[tuple[str, Where]], taken: frozenset[str], error: Report
) -> None:
    for name, where in names:
        if name.lower() in taken:
            error(where, f"{kind} {name!r} is a reserved name: choose another")


def check_shared(shared: s.SharedSpec, error: Report) -> None:
    reserved(
        "operator id",
        ((op, shared.where(f"operators{{{op}}}")) for op in shared.operators),
        RESERVED_OPERATORS,
        error,
    )
    reserved(
        "endpoint",
        (
            (spec.endpoint, spec.where("endpoint"))
            for spec in shared.operators.values()
            if spec.endpoint is not None
        ),
        RESERVED_OPERATORS,
        error,
    )
    reserved(
        "group id",
        ((g, shared.where(f"groups{{{g}}}")) for g in shared.groups),
        RESERVED_GROUPS,
        error,
    )


def policy(spec: s.DialPolicySpec | None) -> DialPolicy:
    if spec is None:
        return DialPolicy()
    return DialPolicy(frozenset(spec.allow), spec.allow_prefixes, spec.deny_prefixes)


def retention(spec: s.RetentionSpec | None, base: Retention, error: Report) -> Retention:
    if spec is None:
        return base
    days = {}
    for name in ("recordings", "messages", "numbers"):
        value = getattr(spec, name)
        if value is None:
            days[name] = getattr(base, name)
        elif value < 1:
            error(spec.where(name), f"{name}: at least 1 day")
            days[name] = getattr(base, name)
        else:
            days[name] = value
    return Retention(**days)


def check_client(spec: s.ClientSpec, client_id: str, error: Report) -> None:
    if client_id.lower() in RESERVED_CLIENTS:
        where = spec.where("id") if spec.id else spec.at
        error(where, f"client id {client_id!r} is a reserved name: choose another")


def dial_warnings(
    center: DialPolicy,
    ladders: dict[str, Ladder],
    ladder_specs: dict[str, s.LadderSpec],
    clients: dict[str, Client],
    client_specs: dict[str, s.ClientSpec],
    warn: Report,
) -> None:
    """Numbers in the rules that the dial policy will refuse: said now, not on the night.
    A ladder's contact is judged by the policy of each client whose rules start the ladder
    (the center's when none does), and warned of when every one of them refuses it."""
    users: dict[str, list[DialPolicy]] = {name: [] for name in ladders}
    for client in clients.values():
        chains = [rule.chain for rule in client.rules]
        for menu in client.menus.values():
            chains += [*menu.options.values(), menu.default]
        own = center.merged(client.dial_allow, client.dial_deny)
        for used in {t.step.ladder for chain in chains for t in chain if t.step.ladder}:
            if used in users:
                users[used].append(own)
    for name, ladder in ladders.items():
        for i, contact in enumerate(ladder.contacts):
            if contact.on_call_now:  # a person of the client's: their numbers are checked
                continue
            verdicts = [dialpolicy.check(p, contact.number) for p in users[name] or [center]]
            if not any(verdicts):
                where = ladder_specs[name].contacts[i].where("number")
                warn(where, f"contact {contact.name!r} will not be called: {verdicts[0].reason}")
    for client_id, client in clients.items():
        own = center.merged(client.dial_allow, client.dial_deny)
        spec = client_specs[client_id]
        written = [rule.to for rule in spec.rules]
        for menu_spec in spec.menus.values():
            written += [*menu_spec.options.values(), menu_spec.default]
        for steps in written:
            for step in steps:
                if isinstance(step, s.DestinationSpec) and step.forward:
                    verdict = dialpolicy.check(own, step.forward)
                    if not verdict:
                        warn(step.where("forward"), f"never forwarded: {verdict.reason}")
