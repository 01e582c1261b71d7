"""Where a rule sends a call: the part of the Compiler (ivr/routing/load.py) that turns a
rule's `to:` chain into steps (groups, operators, numbers, menus, ladders, people)."""

from __future__ import annotations

from ivr.routing import people as staff
from ivr.routing import spec as s
from ivr.routing.compiling import ClientContext, unknown
from ivr.routing.decision import Step
from ivr.routing.model import (
    Group,
    Ladder,
    Operator,
    Target,
    Window,
)
from ivr.routing.source import Where

# A step of a `to:` chain is exactly one of these.
KINDS = (
    "group",
    "operator",
    "message",
    "escalate",
    "announce",
    "forward",
    "menu",
    "put_through",
    "hangup",
)
DEFAULT_MESSAGE_SECONDS = 120


class DestinationParts:
    """Part of Compiler: its fields are declared (and made) there."""

    operators: dict[str, Operator]
    groups: dict[str, Group]
    ladders: dict[str, Ladder]
    _steps: dict[tuple[str, int | None], Step]
    _chosen: dict[tuple[str | None, ...], tuple[str, ...]]

    def error(self, where: Where, message: str) -> None:
        raise NotImplementedError

    def warn(self, where: Where, message: str) -> None:
        raise NotImplementedError

    def _positive(self, spec: s.Spec, key: str, value: int) -> None:
        raise NotImplementedError

    def _prompt_ref(self, where: Where, name: str, ctx: ClientContext) -> None:
        raise NotImplementedError

    def _window(
        self, spec: s.Spec, days: str | None, hours: tuple[str, ...] | None
    ) -> Window | None:
        raise NotImplementedError

    def _chain(
        self,
        items: tuple[str | s.DestinationSpec, ...],
        owner: s.Spec,
        key: str,
        ctx: ClientContext,
    ) -> tuple[Target, ...]:
        out: list[Target] = []
        for i, item in enumerate(items):
            where = owner.where(f"{key}[{i}]", key)
            if isinstance(item, str):
                target = self._word(item, where)
            elif item.put_through is not None:
                out.extend(self._put_through(item, ctx))
                continue
            else:
                target = self._destination(item, ctx)
            if target is not None:
                out.append(target)
        if not items:
            self.error(owner.where(key), "an empty chain: give at least one step")
        for target in out[:-1]:
            if target.step.kind in ("hangup", "announce", "menu") and target.window is None:
                self.warn(where, f"steps after {target.step.kind!r} are never reached")
                break
        return tuple(out)

    def _word(self, word: str, where: Where) -> Target | None:
        if word == "message":
            return Target(Step(kind="message", max_seconds=DEFAULT_MESSAGE_SECONDS))
        if word == "hangup":
            return Target(Step(kind="hangup"))
        group = self.groups.get(word)
        if group is None:
            self.error(where, unknown("group", word, self.groups, "(or message, hangup)"))
            return None
        return Target(self._group_step(group, None))

    def _group_step(self, group: Group, timeout: int | None) -> Step:
        key = (group.id, timeout)
        step = self._steps.get(key)
        if step is None:  # thousands of clients ring the same groups: share the Step
            endpoints = tuple(self.operators[m].endpoint for m in group.members)
            step = Step(
                kind="operators",
                operators=endpoints,
                group=group.id,
                timeout=timeout if timeout is not None else group.timeout,
            )
            self._steps[key] = step
        return step

    def _destination(self, d: s.DestinationSpec, ctx: ClientContext) -> Target | None:
        kinds = [k for k in KINDS if getattr(d, k) not in (None, False)]
        if not kinds and (d.skill is not None or d.language is not None):
            kinds = ["operators"]
        if len(kinds) != 1:
            what = " and ".join(kinds) if kinds else "nothing"
            self.error(d.at, f"a step has exactly one of {', '.join(KINDS)}; got {what}")
            return None
        kind = kinds[0]
        window = self._window(d, d.days, d.hours)
        if d.timeout is not None:
            self._positive(d, "timeout", d.timeout)
        if d.max_seconds is not None:
            self._positive(d, "max_seconds", d.max_seconds)
            if kind not in ("message", "escalate"):
                self.error(d.where("max_seconds"), "max_seconds goes with message or escalate")
        if (d.skill is not None or d.language is not None) and kind not in ("group", "operators"):
            self.error(d.at, "skill and language choose operators: use them with a group")
        timeout = d.timeout if d.timeout is not None else 20
        seconds = d.max_seconds if d.max_seconds is not None else DEFAULT_MESSAGE_SECONDS
        step: Step | None = None
        menu: str | None = None
        if kind in ("group", "operators"):
            step = self._operators_step(d, ctx)
        elif kind == "operator":
            assert d.operator is not None
            op = self.operators.get(d.operator)
            if op is None:
                self.error(d.where("operator"), unknown("operator", d.operator, self.operators))
            else:
                step = Step(kind="operators", operators=(op.endpoint,), timeout=timeout)
        elif kind == "message":
            step = Step(kind="message", max_seconds=seconds, timeout=timeout)
        elif kind == "escalate":
            assert d.escalate is not None
            if d.escalate not in self.ladders:
                self.error(d.where("escalate"), unknown("ladder", d.escalate, self.ladders))
            step = Step(kind="escalate", ladder=d.escalate, max_seconds=seconds, timeout=timeout)
        elif kind == "announce":
            assert d.announce is not None
            self._prompt_ref(d.where("announce"), d.announce, ctx)
            step = Step(kind="announce", prompt=d.announce, timeout=timeout)
        elif kind == "forward":
            assert d.forward is not None
            step = Step(kind="forward", number=d.forward, timeout=timeout)
        elif kind == "menu":
            assert d.menu is not None
            menu_spec = ctx.spec.menus.get(d.menu)
            if menu_spec is None:
                self.error(d.where("menu"), unknown("menu", d.menu, ctx.spec.menus))
            else:
                menu = d.menu
                step = Step(
                    kind="menu",
                    prompt=menu_spec.prompt,
                    options=tuple(sorted(menu_spec.options)),
                    timeout=menu_spec.timeout,
                    retries=menu_spec.retries,
                    invalid_prompt=menu_spec.invalid,
                )
        else:  # hangup
            step = Step(kind="hangup")
        if step is None:
            return None
        return Target(step, window, menu)

    def _put_through(self, d: s.DestinationSpec, ctx: ClientContext) -> list[Target]:
        kinds = [k for k in KINDS if getattr(d, k) not in (None, False)]
        if len(kinds) != 1:
            self.error(
                d.at, f"a step has exactly one of {', '.join(KINDS)}; got {' and '.join(kinds)}"
            )
            return []
        assert d.put_through is not None
        person = ctx.people.get(d.put_through)
        if person is None:
            self.error(d.where("put_through"), unknown("person", d.put_through, ctx.people))
            return []
        if d.timeout is not None:
            self._positive(d, "timeout", d.timeout)
        return staff.targets(person, d.timeout, self._window(d, d.days, d.hours))

    def _operators_step(self, d: s.DestinationSpec, ctx: ClientContext) -> Step | None:
        group = None
        if d.group is not None:
            group = self.groups.get(d.group)
            if group is None:
                self.error(d.where("group"), unknown("group", d.group, self.groups))
                return None
            members = [self.operators[m] for m in group.members]
        else:
            members = list(self.operators.values())
        if d.skill is None and d.language is None:
            assert group is not None
            return self._group_step(group, d.timeout)
        language = ctx.spec.language if d.language == "client" else d.language
        key = (d.group, d.skill, language)
        chosen = self._chosen.get(key)
        if chosen is None:
            chosen = tuple(
                op.endpoint
                for op in members
                if (d.skill is None or d.skill in op.skills)
                and (language is None or language in op.languages)
            )
            self._chosen[key] = chosen
        if not chosen:
            wanted = " and ".join(
                x
                for x in (
                    f"skill {d.skill!r}" if d.skill else "",
                    f"language {language!r}" if language else "",
                )
                if x
            )
            among = f"group {d.group!r}" if d.group else "the operators"
            self.warn(d.at, f"no operator in {among} has {wanted}: this step is skipped")
            return None
        timeout = d.timeout if d.timeout is not None else (group.timeout if group else 20)
        # A filtered set is not the whole queue: ring the chosen operators directly.
        return Step(kind="operators", operators=chosen, group=None, timeout=timeout)
