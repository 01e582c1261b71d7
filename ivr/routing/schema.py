"""The published JSON schema, generated from the spec classes (never written by hand).

`ivr schema > routing_rules/schema.json` refreshes it; a unit test fails when the committed
file differs from what the classes produce. Editors use it to complete and check the files;
the loader stays the authority (it also checks references, times and duplicates).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import typing
from typing import Any, Literal

from ivr.routing import spec
from ivr.routing.source import is_union, spec_fields, unwrap

SCHEMA_ID = "https://example.invalid/ivr/routing_rules/schema.json"


def _name(cls: type) -> str:
    return cls.__name__.removesuffix("Spec")


class _Builder:
    def __init__(self) -> None:
        self.defs: dict[str, Any] = {}

    def ref(self, cls: type) -> dict[str, Any]:
        name = _name(cls)
        if name not in self.defs:
            self.defs[name] = {}  # placeholder first: classes may refer to each other
            self.defs[name] = self.object(cls)
        return {"$ref": f"#/$defs/{name}"}

    def object(self, cls: type) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for info in spec_fields(cls):
            prop = self.of(info.hint, info.meta)
            if "doc" in info.meta:
                prop = {"description": info.meta["doc"], **prop}
            default = _default(fields[info.name])
            if default is not dataclasses.MISSING and default is not None:
                prop["default"] = default
            properties[info.name] = prop
            if info.required:
                required.append(info.name)
        out: dict[str, Any] = {"type": "object"}
        if cls.__doc__ and not cls.__doc__.startswith(cls.__name__ + "("):
            out["description"] = inspect.cleandoc(cls.__doc__)
        out["properties"] = properties
        if required:
            out["required"] = required
        out["additionalProperties"] = False
        return out

    def of(self, hint: Any, meta: typing.Mapping[str, Any]) -> dict[str, Any]:
        hint, one_or_many = unwrap(hint)
        origin = typing.get_origin(hint)
        if is_union(hint):
            args = typing.get_args(hint)
            options = [self.of(a, meta) for a in args if a is not type(None)]
            if type(None) in args:
                options.append({"type": "null"})
            return options[0] if len(options) == 1 else {"anyOf": options}
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            return self.ref(hint)
        if origin is tuple:
            item = self.of(
                typing.get_args(hint)[0], {"pattern": meta["pattern"]} if "pattern" in meta else {}
            )
            array = {"type": "array", "items": item}
            return {"anyOf": [item, array]} if one_or_many else array
        if origin is dict:
            out: dict[str, Any] = {"type": "object"}
            if "keys" in meta:
                out["propertyNames"] = {"pattern": meta["keys"]}
            values = {"pattern": meta["pattern"]} if "pattern" in meta else {}
            out["additionalProperties"] = self.of(typing.get_args(hint)[1], values)
            return out
        if origin is Literal:
            return {"enum": list(typing.get_args(hint))}
        simple = {str: "string", int: "integer", bool: "boolean", float: "number"}
        out = {"type": simple[hint]}
        if hint is str and "pattern" in meta:
            out["pattern"] = meta["pattern"]
        return out


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return dataclasses.MISSING
    if isinstance(value, tuple):
        return list(value)
    if dataclasses.is_dataclass(value) or (isinstance(value, dict | list) and not value):
        return dataclasses.MISSING  # an empty nested object or container says nothing
    return value


def generate() -> dict[str, Any]:
    """The JSON schema of both file kinds: shared definitions and one client."""
    builder = _Builder()
    from ivr.campaigns.spec import CampaignSpec

    shared = builder.ref(spec.SharedSpec)
    client = builder.ref(spec.ClientSpec)
    campaign = builder.ref(CampaignSpec)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Routing rules",
        "description": (
            "shared.yaml (operators, groups, calendars, prompts, ladders), "
            "clients/<id>.yaml (one client) or campaigns/<id>.yaml (one outbound campaign). "
            "Generated from ivr/routing/spec.py and ivr/campaigns/spec.py."
        ),
        "anyOf": [shared, client, campaign],
        "$defs": dict(sorted(builder.defs.items())),
    }


def render() -> str:
    return json.dumps(generate(), indent=2, ensure_ascii=False) + "\n"
