"""A client's script checked and compiled: every problem names FILE:LINE:COL.

Caught here: a field asked or branched on that is not defined, a branch on a value a field
cannot hold, a pattern that is not a regular expression, a step nothing leads to, steps that
lead round in a loop, an end to a person or ladder that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping

from ivr.routing import scriptspec as ss
from ivr.routing.compiling import unknown
from ivr.routing.script import YES_NO, Branch, End, Field, Script, ScriptStep, placeholders
from ivr.routing.source import Where

Report = Callable[[Where, str], None]
TEXT_TYPES = ("text", "phone", "email", "address", "number")


def compile_script(
    spec: ss.ScriptSpec,
    people: Collection[str],
    ladders: Collection[str],
    error: Report,
    on_call: bool = False,
) -> Script | None:
    """`on_call`: the client says who is on call (an end may put through to 'on-call')."""
    people = [*people, ss.ON_CALL] if on_call else [p for p in people if p != ss.ON_CALL]
    fields = {name: _field(name, f, error) for name, f in spec.fields.items()}
    if not spec.steps:
        error(spec.where("steps"), "a script has at least one step")
        return None
    ids: dict[str, ss.StepSpec] = {}
    for step in spec.steps:
        if step.id in ids:
            error(step.where("id"), f"duplicate step {step.id!r}")
        ids.setdefault(step.id, step)
    order = list(ids)
    steps: dict[str, ScriptStep] = {}
    for n, (step_id, step) in enumerate(ids.items()):
        following = order[n + 1] if n + 1 < len(order) else None
        steps[step_id] = _step(step, following, fields, ids, people, ladders, error)
    for i, name in enumerate(spec.message_fields):
        if name not in fields:
            error(spec.where(f"message_fields[{i}]"), unknown("field", name, fields))
    _reachable(spec, steps, ids, error)
    _loops(steps, ids, error)
    return Script(fields, steps, tuple(n for n in spec.message_fields if n in fields))


def _field(name: str, spec: ss.FieldSpec, error: Report) -> Field:
    pattern = spec.pattern
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            error(spec.where("pattern"), f"pattern {pattern!r} is not a regular expression: {exc}")
            pattern = None
        if spec.type not in TEXT_TYPES:
            error(spec.where("pattern"), f"a {spec.type} field takes no pattern")
    if spec.type == "choice" and not spec.choices:
        error(spec.where("type"), f"choice field {name!r} lists no choices")
    if spec.type != "choice" and spec.choices:
        error(spec.where("choices"), f"only a choice field has choices (this one is {spec.type})")
    return Field(
        name,
        spec.type,
        spec.label,
        spec.required,
        pattern,
        spec.help,
        tuple(spec.choices.items()),
    )


def _step(
    spec: ss.StepSpec,
    following: str | None,
    fields: Mapping[str, Field],
    ids: Mapping[str, ss.StepSpec],
    people: Collection[str],
    ladders: Collection[str],
    error: Report,
) -> ScriptStep:
    for i, name in enumerate(spec.ask):
        if name not in fields:
            error(spec.where(f"ask[{i}]"), unknown("field", name, fields))
    for name in placeholders(spec.say):
        if name not in ("operator", "caller") and name not in fields:
            error(spec.where("say"), f"unknown placeholder {{{name}}}: {{operator}}, {{caller}}"
                  " or a field")  # fmt: skip
    branches = tuple(_branch(b, fields, ids, people, ladders, error) for b in spec.branches)
    if spec.goto is not None and spec.end is not None:
        error(spec.where("goto"), "a step goes to another step or ends, not both")
    if spec.goto is not None and spec.goto not in ids:
        error(spec.where("goto"), unknown("step", spec.goto, ids))
    end = _end(spec.end, people, ladders, error) if spec.end is not None else None
    goto = spec.goto if spec.goto in ids else None
    if spec.goto is None and end is None:
        goto = following  # the next step in the list; after the last, a message
    return ScriptStep(spec.id, spec.say, tuple(n for n in spec.ask if n in fields), branches,
                      goto, end)  # fmt: skip


def _branch(
    spec: ss.BranchSpec,
    fields: Mapping[str, Field],
    ids: Mapping[str, ss.StepSpec],
    people: Collection[str],
    ladders: Collection[str],
    error: Report,
) -> Branch:
    when: list[tuple[str, frozenset[str]]] = []
    for name, values in spec.when.items():
        field = fields.get(name)
        if field is None:
            error(spec.where(f"when{{{name}}}"), unknown("field", name, fields))
            continue
        allowed: Collection[str] | None = None
        if field.type == "choice":
            allowed = dict(field.choices)
        elif field.type == "yes-no":
            allowed = YES_NO
        for i, value in enumerate(values):
            if allowed is not None and value not in allowed:
                error(
                    spec.where(f"when[{name}][{i}]", f"when[{name}]"),
                    f"{name} is never {value!r}; it is one of: {', '.join(allowed)}",
                )
        when.append((name, frozenset(values)))
    if not spec.when:
        error(spec.where("when"), "a branch says when it is taken")
    if (spec.goto is None) == (spec.end is None):
        error(spec.at, "a branch either goes to a step (goto) or ends (end)")
    if spec.goto is not None and spec.goto not in ids:
        error(spec.where("goto"), unknown("step", spec.goto, ids))
    end = _end(spec.end, people, ladders, error) if spec.end is not None else None
    goto = spec.goto if spec.goto in ids else None
    return Branch(tuple(when), goto, end if goto is None else None)


def _end(spec: ss.EndSpec, people: Collection[str], ladders: Collection[str], error: Report) -> End:
    person = spec.put_through
    if person == ss.ON_CALL and ss.ON_CALL not in people:
        error(spec.where("put_through"), "put through to 'on-call': the client has no on_call")
        person = None
    elif person is not None and person != ss.ON_CALL and person not in people:
        known = [p for p in people if p != ss.ON_CALL]
        error(spec.where("put_through"), unknown("person", person, known, "(or 'on-call')"))
        person = None
    if spec.ladder is not None and spec.ladder not in ladders:
        error(spec.where("ladder"), unknown("ladder", spec.ladder, ladders))
    if spec.ladder is not None and person is not None:
        error(spec.where("ladder"), "an end puts through or starts a ladder, not both")
    if not spec.message:
        error(spec.where("message"), "every end keeps a message (the record of the call)")
    return End(True, person, spec.ladder if spec.ladder in ladders else None, spec.urgent)


def _targets(step: ScriptStep) -> list[str]:
    out = [b.goto for b in step.branches if b.goto is not None]
    if step.goto is not None:
        out.append(step.goto)
    return out


def _reachable(
    spec: ss.ScriptSpec,
    steps: Mapping[str, ScriptStep],
    ids: Mapping[str, ss.StepSpec],
    error: Report,
) -> None:
    first = next(iter(steps))
    seen = {first}
    todo = [first]
    while todo:
        for target in _targets(steps[todo.pop()]):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    for step_id, step in ids.items():
        if step_id not in seen:
            error(step.where("id"), f"step {step_id!r} is unreachable: nothing leads to it")


def _loops(steps: Mapping[str, ScriptStep], ids: Mapping[str, ss.StepSpec], error: Report) -> None:
    """A script runs forwards only: a way back to a step already passed is a loop."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(step_id: str, trail: list[str]) -> None:
        state[step_id] = 1
        step = steps[step_id]
        for branch_index, branch in enumerate(step.branches):
            _edge(step_id, branch.goto, f"branches[{branch_index}]", trail)
        _edge(step_id, step.goto, "goto", trail)
        state[step_id] = 2

    def _edge(source: str, target: str | None, key: str, trail: list[str]) -> None:
        if target is None:
            return
        if state.get(target) == 1:
            path = [*trail, source]
            loop = " -> ".join([*path[path.index(target) :], target])
            spec = ids[source]
            if key.startswith("branches["):
                where = spec.branches[int(key[9:-1])].where("goto")
            elif spec.goto is not None:
                where = spec.where("goto")
            else:  # the implicit "next step": point at the step
                where = spec.where("id")
            error(where, f"the script loops: {loop}")
        elif target not in state:
            visit(target, [*trail, source])

    for step_id in steps:
        if step_id not in state:
            visit(step_id, [])
