"""YAML text -> typed spec objects, every value remembering where it was written.

The spec classes (spec.py) are frozen dataclasses; their type hints drive both this decoder
and the JSON schema (schema.py), so the published schema cannot drift from what is accepted.
We compose YAML to nodes instead of loading it to Python values because nodes keep their
marks (line, column) and their raw text: `08:30` stays a time, `0611111111` keeps its zero.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal, NamedTuple, Union

import yaml

Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

NULL_TAG = "tag:yaml.org,2002:null"
BOOL_TAG = "tag:yaml.org,2002:bool"
INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
TRUE_WORDS = frozenset({"true", "yes", "on", "y"})


class Where(NamedTuple):
    """A position in a rules file; line and column count from 1. (A tuple: loading makes
    hundreds of thousands of these, and a frozen dataclass is several times slower to build.)"""

    file: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One error or warning, pointing at the file, line and column it is about."""

    file: str
    line: int
    column: int
    message: str
    warning: bool = False

    @classmethod
    def at(cls, where: Where, message: str, warning: bool = False) -> Problem:
        return cls(where.file, where.line, where.column, message, warning)

    def __str__(self) -> str:
        kind = "warning: " if self.warning else ""
        return f"{self.file}:{self.line}:{self.column}: {kind}{self.message}"


class RulesError(Exception):
    """The rules cannot be used; .problems says everything that is wrong, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.column))
        super().__init__("\n".join(str(p) for p in self.problems))


NOWHERE = Where("<none>")
_INTERNAL = {"internal": True}


@dataclass(frozen=True, kw_only=True)
class Spec:
    """Base of every spec class: where it was written, and where each of its values was."""

    at: Where = field(default=NOWHERE, compare=False, repr=False, metadata=_INTERNAL)
    # field name (or "name[index]" for an item, "name{key}" for a mapping key) -> position,
    # packed as line << 16 | column (0-based): loading 10,000 clients records a million.
    marks: Mapping[str, int] = field(
        default_factory=dict, compare=False, repr=False, metadata=_INTERNAL
    )

    def where(self, name: str, fallback: str | None = None) -> Where:
        """Where the value `name` was written; else where `fallback` was; else the mapping."""
        packed = self.marks.get(name)
        if packed is None and fallback is not None:
            packed = self.marks.get(fallback)
        if packed is None:
            return self.at
        return Where(self.at.file, (packed >> 16) + 1, (packed & 0xFFFF) + 1)


class OneOrMany:
    """Annotated marker: a list field that also accepts a single item written alone."""


def doc(text: str, **extra: Any) -> dict[str, Any]:
    """Field metadata: a description for the schema, and optional schema keywords."""
    return {"doc": text, **extra}


@dataclass(frozen=True)
class FieldInfo:
    name: str
    hint: Any
    required: bool
    meta: Mapping[str, Any]


@cache
def spec_fields(cls: type) -> tuple[FieldInfo, ...]:
    hints = typing.get_type_hints(cls, include_extras=True)
    out = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        out.append(FieldInfo(f.name, hints[f.name], required, f.metadata))
    return tuple(out)


@cache
def _field_map(cls: type) -> dict[str, FieldInfo]:
    return {f.name: f for f in spec_fields(cls)}


def unwrap(hint: Any) -> tuple[Any, bool]:
    """Strip Annotated; say whether it carried the OneOrMany marker."""
    if typing.get_origin(hint) is typing.Annotated:
        args = typing.get_args(hint)
        return args[0], any(a is OneOrMany or isinstance(a, OneOrMany) for a in args[1:])
    return hint, False


def is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (Union, types.UnionType)


_BAD = object()


@cache
def _shape(hint: Any) -> tuple[Any, ...]:
    """What decode() needs to know about a type hint, worked out once per hint."""
    base, one_or_many = unwrap(hint)
    origin = typing.get_origin(base)
    if is_union(base):
        args = typing.get_args(base)
        options = [a for a in args if a is not type(None)]
        by_node: dict[str, Any] = {}
        for option in options:
            kind = _shape(option)[0]
            node_kind = {"spec": "mapping", "dict": "mapping", "list": "list"}.get(kind, "scalar")
            by_node.setdefault(node_kind, option)
        nullable = len(options) < len(args)
        return (
            "union",
            by_node.get("mapping"),
            by_node.get("list"),
            by_node.get("scalar"),
            nullable,
        )
    if dataclasses.is_dataclass(base) and isinstance(base, type):
        return ("spec", base)
    if origin is tuple:
        return ("list", typing.get_args(base)[0], one_or_many)
    if origin is dict:
        return ("dict", typing.get_args(base)[1])
    if origin is Literal:
        return ("scalar", None, frozenset(typing.get_args(base)))
    return ("scalar", base, frozenset())


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag == NULL_TAG:
        return "nothing"
    return repr(node.value)


def _describe(hint: Any) -> str:
    hint, _ = unwrap(hint)
    origin = typing.get_origin(hint)
    if hint is str:
        return "a string"
    if hint is int:
        return "a whole number"
    if hint is bool:
        return "true or false"
    if hint is float:
        return "a number"
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in typing.get_args(hint))
    if origin is tuple:
        return "a list"
    if origin is dict:
        return "a mapping"
    if is_union(hint):
        return " or ".join(_describe(a) for a in typing.get_args(hint) if a is not type(None))
    if dataclasses.is_dataclass(hint):
        return "a mapping"
    return str(hint)


# Every string of a rules file, whatever its field: no control characters but tab and
# line break (a NUL or an escape sequence is never meant, and may end up in a config file).
_BASELINE = re.compile(r"[^\x00-\x08\x0b-\x1f\x7f]*")


@cache
def _rule(meta_items: tuple[tuple[str, Any], ...]) -> tuple[re.Pattern[str], str, str] | None:
    """The pattern a field's strings must match, its hint and its noun; None: baseline."""
    meta = dict(meta_items)
    if "pattern" not in meta or meta.get("compiled"):
        return None
    hint = meta.get("hint") or f"must match {meta['pattern']}"
    return re.compile(meta["pattern"]), hint, meta.get("what", "")


def _checks(meta: Mapping[str, Any] | None) -> tuple[re.Pattern[str], str, str] | None:
    if not meta:
        return None
    return _rule(
        tuple((k, v) for k, v in meta.items() if k in ("pattern", "hint", "what", "compiled"))
    )


class Decoder:
    """Decodes one file's node tree; collects problems instead of stopping at the first."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems

    def where(self, node: yaml.Node) -> Where:
        return Where(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def error(self, node: yaml.Node, message: str) -> object:
        self.problems.append(Problem.at(self.where(node), message))
        return _BAD

    def decode(
        self, node: yaml.Node, hint: Any, what: str, checks: tuple[Any, ...] | None = None
    ) -> Any:
        """`checks`: the pattern (and its hint) a string value, or each string in a list or
        mapping of strings, must match; see spec.py."""
        shape = _shape(hint)
        kind = shape[0]
        if kind == "union":
            return self._union(node, shape, hint, what, checks)
        if kind == "spec":
            return self.decode_spec(node, shape[1], what)
        if kind == "list":
            return self._list(node, shape[1], what, shape[2], checks)
        if kind == "dict":
            return self._mapping(node, shape[1], what, checks)
        if type(node) is not yaml.ScalarNode or node.tag == NULL_TAG:
            return self.error(node, f"{what}: expected {_describe(hint)}, got {_kind(node)}")
        return self._scalar(node, shape, hint, what, checks)

    def _scalar(
        self,
        node: yaml.ScalarNode,
        shape: tuple[Any, ...],
        hint: Any,
        what: str,
        checks: tuple[Any, ...] | None = None,
    ) -> Any:
        text = node.value
        base = shape[1]
        if base is str:
            if checks is not None:
                pattern, message, noun = checks
                if not pattern.match(text):
                    label = noun or what.rsplit(".", 1)[-1].split("[", 1)[0]
                    return self.error(node, f"{label} {text!r}: {message}")
            elif not _BASELINE.fullmatch(text):
                return self.error(node, f"{what}: {text!r}: no control characters")
            return text
        if base is bool:
            if node.tag == BOOL_TAG:
                return text.lower() in TRUE_WORDS
        elif base is int:
            if node.tag == INT_TAG:
                try:
                    return int(text, 10)
                except ValueError:
                    pass
        elif base is float:
            if node.tag in (INT_TAG, FLOAT_TAG):
                try:
                    return float(text)
                except ValueError:
                    pass
        elif text in shape[2]:  # a Literal's choices
            return text
        return self.error(node, f"{what}: expected {_describe(hint)}, got {_kind(node)}")

    def _union(
        self,
        node: yaml.Node,
        shape: tuple[Any, ...],
        hint: Any,
        what: str,
        checks: tuple[Any, ...] | None = None,
    ) -> Any:
        _, for_mapping, for_list, for_scalar, nullable = shape
        if type(node) is yaml.MappingNode:
            option = for_mapping
        elif type(node) is yaml.SequenceNode:
            option = for_list
        elif node.tag == NULL_TAG:
            if nullable:
                return None
            option = None
        else:
            option = for_scalar
        if option is None:
            return self.error(node, f"{what}: expected {_describe(hint)}, got {_kind(node)}")
        return self.decode(node, option, what, checks)

    def _list(
        self,
        node: yaml.Node,
        item: Any,
        what: str,
        one_or_many: bool,
        checks: tuple[Any, ...] | None = None,
    ) -> Any:
        if not isinstance(node, yaml.SequenceNode):
            if one_or_many and not (isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG):
                value = self.decode(node, item, what, checks)
                return _BAD if value is _BAD else (value,)
            return self.error(node, f"{what}: expected a list, got {_kind(node)}")
        values = [self.decode(n, item, f"{what}[{i}]", checks) for i, n in enumerate(node.value)]
        if any(v is _BAD for v in values):
            return _BAD
        return tuple(values)

    def _mapping(
        self, node: yaml.Node, item: Any, what: str, checks: tuple[Any, ...] | None = None
    ) -> Any:
        if not isinstance(node, yaml.MappingNode):
            return self.error(node, f"{what}: expected a mapping, got {_kind(node)}")
        out: dict[str, Any] = {}
        bad = False
        for key_node, value_node in node.value:
            key = self._key(key_node, what)
            if key is None:
                bad = True
                continue
            if key in out:
                self.error(key_node, f"{what}: duplicate key {key!r}")
                bad = True
                continue
            value = self.decode(value_node, item, f"{what}.{key}", checks)
            if value is _BAD:
                bad = True
            out[key] = value
        return _BAD if bad else out

    def _key(self, node: yaml.Node, what: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode) or node.tag == NULL_TAG:
            self.error(node, f"{what}: a key must be a plain name, got {_kind(node)}")
            return None
        return str(node.value)

    def decode_spec(self, node: yaml.Node, cls: type, what: str) -> Any:
        if not isinstance(node, yaml.MappingNode):
            return self.error(node, f"{what}: expected a mapping, got {_kind(node)}")
        fields = _field_map(cls)
        values: dict[str, Any] = {}
        marks: dict[str, int] = {}
        bad = False
        for key_node, value_node in node.value:
            key = self._key(key_node, what)
            if key is None:
                bad = True
                continue
            info = fields.get(key)
            if info is None:
                close = difflib.get_close_matches(key, list(fields), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.error(key_node, f"{_label(what)}unknown key {key!r}{hint}")
                bad = True
                continue
            if key in values:
                self.error(key_node, f"{_label(what)}duplicate key {key!r}")
                bad = True
                continue
            marks[key] = _pack(value_node)
            marks["{" + key + "}"] = _pack(key_node)
            self._item_marks(value_node, key, marks)
            value = self.decode(
                value_node, info.hint, f"{what}.{key}" if what else key, _checks(info.meta)
            )
            if value is _BAD:
                bad = True
            elif "keys" in info.meta and isinstance(value_node, yaml.MappingNode):
                hint = info.meta.get("keys_hint", "letters, digits, _ . - (not first)")
                bad = not self._check_keys(value_node, info.meta["keys"], key, hint) or bad
            values[key] = value
        for info in fields.values():
            if info.required and info.name not in values:
                self.error(node, f"{_label(what)}missing key {info.name!r}")
                bad = True
        if bad:
            return _BAD
        return cls(at=self.where(node), marks=marks, **values)

    def _check_keys(self, node: yaml.MappingNode, pattern: str, what: str, hint: str) -> bool:
        ok = True
        for key_node, _ in node.value:
            if not re.match(pattern, str(key_node.value)):
                self.error(key_node, f"{what}: {key_node.value!r} is not allowed here: {hint}")
                ok = False
        return ok

    def _item_marks(self, node: yaml.Node, key: str, marks: dict[str, int]) -> None:
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                marks[f"{key}[{i}]"] = _pack(item)
        elif isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    marks[f"{key}{{{key_node.value}}}"] = _pack(key_node)
                    marks[f"{key}[{key_node.value}]"] = _pack(value_node)
                    if isinstance(value_node, yaml.SequenceNode):
                        for i, item in enumerate(value_node.value):
                            marks[f"{key}[{key_node.value}][{i}]"] = _pack(item)


def _pack(node: yaml.Node) -> int:
    mark = node.start_mark
    return mark.line << 16 | min(mark.column, 0xFFFF)


def _label(what: str) -> str:
    return f"{what}: " if what else ""


def compose(text: str, file: str, problems: list[Problem]) -> yaml.Node | None:
    """Parse YAML text to a node tree; a syntax error becomes a problem with its position."""
    try:
        return yaml.compose(text, Loader=Loader)  # noqa: S506 - compose builds no objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"YAML syntax: {exc.problem or exc.context}"
        problems.append(Problem(file, line, column, message))
    except yaml.YAMLError as exc:
        problems.append(Problem(file, 1, 1, f"YAML: {exc}"))
    return None


def decode_file(
    text: str, file: str, cls: type, problems: list[Problem], what: str = ""
) -> Any | None:
    node = compose(text, file, problems)
    if node is None:
        if not any(p.file == file for p in problems):
            problems.append(Problem(file, 1, 1, "the file is empty"))
        return None
    value = Decoder(file, problems).decode_spec(node, cls, what)
    return None if value is _BAD else value
