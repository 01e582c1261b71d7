"""evaluate(): who answers this call, now. Pure: no I/O, no clock, no mutable state.

Order of questions: whose number is it -> is the client open (weekly hours, holidays,
partial days, then a manual override) -> the first rule whose conditions hold -> its chain,
with steps outside their hours dropped and menus resolved by the digits already pressed.

A shift belongs to the day it starts: Friday's 22:00-06:00 still runs on Saturday morning
even if Saturday is a holiday, and a night shift that starts on a holiday does not run.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ivr.routing.clock import MINUTES_PER_DAY, Holiday, format_minutes, format_range
from ivr.routing.decision import CallInfo, Decision, Step
from ivr.routing.model import Client, Condition, Rules, Target
from ivr.routing.overrides import Override, Overrides

MESSAGE = Step(kind="message")
MAX_MENU_DEPTH = 16
WITHHELD = frozenset({"", "anonymous", "unknown", "restricted", "private", "unavailable"})


def evaluate(
    rules: Rules, call: CallInfo, now: datetime, overrides: Overrides | None = None
) -> Decision:
    """Decide what happens to `call` at the instant `now` (an aware datetime)."""
    client_id = rules.number_index.get(call.called)
    if client_id is None:
        return Decision(
            client=None,
            open=False,
            why="unknown number",
            rule="",
            chain=rules.unknown_chain,
            explanation=f"{call.called or 'no number'} belongs to no client: "
            f"group {rules.fallback_group}, then a message",
        )
    if now.tzinfo is None:
        raise ValueError("evaluate() needs an aware datetime for now")
    client = rules.clients[client_id]
    local = now.astimezone(client.zone)
    weekday = local.weekday()
    minute = local.hour * 60 + local.minute
    holiday = client.holidays.get(local.date()) if client.holidays else None
    is_open, why = _opening(client, local, weekday, minute, holiday)

    override = overrides.for_client(client_id, now) if overrides is not None else None
    if override is not None:
        if override.mode in ("open", "closed"):
            is_open = override.mode == "open"
            why = _override_why(override, client)
        else:
            chain = _override_chain(rules, override)
            why = _override_why(override, client)
            return Decision(
                client.card, is_open, why, "override", chain, 0, _explain(client, why, chain)
            )

    for rule in client.rules:
        if _matches(rule.condition, call, is_open, holiday, weekday, minute):
            if rule.static_chain is not None:
                chain, where = rule.static_chain, rule.where
            else:
                steps: list[Step] = []
                path: list[str] = []
                _expand(rule.chain, client, call.digits, 0, weekday, minute, steps, path, False)
                chain = tuple(steps)
                where = " > ".join([rule.where, *path])
            label = f"rule {rule.name!r}" if rule.name else where
            return Decision(
                client.card,
                is_open,
                why,
                where,
                chain,
                rule.priority,
                _explain(client, why, chain, label),
            )
    chain = (_fallback_step(rules), MESSAGE) if is_open else (MESSAGE,)
    return Decision(
        client.card, is_open, why, "", chain, 0, _explain(client, why, chain, "no rule matched")
    )


def _opening(
    client: Client, local: datetime, weekday: int, minute: int, today: Holiday | None
) -> tuple[bool, str]:
    if today is not None and today.hours is not None:  # special hours replace the usual ones
        for first, last in today.hours:
            if first <= minute < last:
                return True, f"{today.name}: open {format_range(first, last)}"
        return False, f"closed: {today.name}"
    shift = client.schedule.find(weekday * MINUTES_PER_DAY + minute)
    if shift is None:
        if today is not None and today.full:
            return False, f"holiday: {today.name}"
        return False, "closed: outside opening hours"
    back = 0 if shift.day < 0 else (weekday - shift.day) % 7
    holiday = today
    if back and client.holidays:
        holiday = client.holidays.get(local.date() - timedelta(days=back))
    if holiday is None:
        return True, f"opening hours {shift.label}"
    if holiday.full:
        return False, f"holiday: {holiday.name}"
    if holiday.until is not None and back == 0 and minute < holiday.until:
        return True, f"{holiday.name}: open until {format_minutes(holiday.until)}"
    if holiday.until is not None:
        return False, f"{holiday.name}: closed from {format_minutes(holiday.until)}"
    return False, f"closed: {holiday.name}"  # a night shift begun on a day of special hours


def _matches(
    c: Condition, call: CallInfo, is_open: bool, holiday: Holiday | None, weekday: int, minute: int
) -> bool:
    if c.open is not None and c.open != is_open:
        return False
    if c.holiday is not None and c.holiday != (holiday is not None):
        return False
    if c.window is not None and not c.window.contains(weekday, minute):
        return False
    if c.withheld is not None and c.withheld != (call.caller.lower() in WITHHELD):
        return False
    if c.callers or c.prefixes:
        caller = call.caller
        if not caller or not (caller in c.callers or caller.startswith(c.prefixes)):
            return False
    if c.repeat_within is not None:
        since = call.seconds_since_last_call
        if since is None or since > c.repeat_within:
            return False
    return True


def _expand(
    targets: tuple[Target, ...],
    client: Client,
    digits: str,
    level: int,
    weekday: int,
    minute: int,
    out: list[Step],
    path: list[str],
    tail: bool,
) -> None:
    """Append the steps of `targets`; a menu either follows the digit pressed at its level,
    or is offered (a menu step, then its default chain for when no key is pressed)."""
    for target in targets:
        if target.window is not None and not target.window.contains(weekday, minute):
            continue
        if target.menu is None:
            out.append(target.step)
            continue
        if tail or level >= MAX_MENU_DEPTH:
            return  # a menu inside a "no key pressed" chain is not offered again
        menu = client.menus[target.menu]
        if level < len(digits):
            key = digits[level]
            chosen = menu.options.get(key)
            if chosen is not None:
                path.append(f"menus.{menu.id}[{key}]")
                _expand(chosen, client, digits, level + 1, weekday, minute, out, path, False)
            else:
                path.append(f"menus.{menu.id}: no option {key!r}, default")
                _expand(menu.default, client, digits, level + 1, weekday, minute, out, path, True)
            return
        out.append(target.step)
        _expand(menu.default, client, digits, level + 1, weekday, minute, out, path, True)
        return


def _fallback_step(rules: Rules) -> Step:
    return rules.unknown_chain[0] if len(rules.unknown_chain) > 1 else MESSAGE


def _override_chain(rules: Rules, override: Override) -> tuple[Step, ...]:
    if override.mode == "forward":
        return (Step(kind="forward", number=override.target), MESSAGE)
    if override.mode == "group":
        group = rules.groups.get(override.target)
        if group is None:  # the group went away since the override was set: still a human
            return (_fallback_step(rules), MESSAGE)
        endpoints = tuple(rules.operators[m].endpoint for m in group.members)
        step = Step(kind="operators", operators=endpoints, group=group.id, timeout=group.timeout)
        return (step, MESSAGE)
    return (MESSAGE,)


def _override_why(override: Override, client: Client) -> str:
    what = override.mode if override.mode != "group" else f"group {override.target}"
    if override.mode == "forward":
        what = f"forward to {override.target}"
    until = ""
    if override.until is not None:
        until = f" until {override.until.astimezone(client.zone):%Y-%m-%d %H:%M}"
    reason = f" ({override.reason})" if override.reason else ""
    return f"override: {what}{until}{reason}"


def describe(step: Step) -> str:
    """A step in a few words, for explanations and logs."""
    if step.kind == "operators":
        return f"group {step.group}" if step.group else "ring " + "+".join(step.operators)
    if step.kind == "forward" and step.person:
        return f"put through to {step.person} at {step.number}"
    if step.kind == "forward":
        return f"forward to {step.number}"
    if step.kind == "escalate":
        return f"escalate to {step.ladder}"
    if step.kind in ("menu", "announce"):
        return f"{step.kind} {step.prompt}"
    return step.kind


def _explain(client: Client, why: str, chain: tuple[Step, ...], label: str = "") -> str:
    steps = ", then ".join(describe(s) for s in chain) or "nothing"
    return f"{client.name}: {why}; {label + ': ' if label else ''}{steps}"
