"""The published schema is the generated one, and the example rules satisfy it."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr.routing import load_rules
from ivr.routing.schema import generate, render

RULES = Path(__file__).resolve().parents[2] / "routing_rules"
EXAMPLES = sorted([RULES / "shared.yaml", *(RULES / "clients").glob("*.yaml")])


def test_committed_schema_is_the_generated_one():
    committed = (RULES / "schema.json").read_text(encoding="utf-8")
    assert committed == render(), "run: ivr schema > routing_rules/schema.json"


def errors(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "") -> list[str]:
    """A small JSON-schema validator: the keywords schema.py emits, nothing more."""
    if "$ref" in schema:
        return errors(value, root["$defs"][schema["$ref"].rsplit("/", 1)[1]], root, path)
    if "anyOf" in schema:
        tried = [errors(value, option, root, path) for option in schema["anyOf"]]
        return [] if any(not t for t in tried) else min(tried, key=len)
    if "enum" in schema:
        return [] if value in schema["enum"] else [f"{path}: {value!r} not in enum"]
    kind = schema.get("type")
    types = {
        "string": str,
        "integer": int,
        "boolean": bool,
        "number": (int, float),
        "null": type(None),
        "array": list,
        "object": dict,
    }
    if kind and not isinstance(value, types[kind]):
        return [f"{path}: expected {kind}, got {type(value).__name__}"]
    if kind in ("integer", "number") and isinstance(value, bool):
        return [f"{path}: expected {kind}, got bool"]
    out: list[str] = []
    if kind == "string" and "pattern" in schema and not re.search(schema["pattern"], value):
        out.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if kind == "array":
        for i, item in enumerate(value):
            out += errors(item, schema["items"], root, f"{path}[{i}]")
    if kind == "object":
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                out.append(f"{path}: missing {key}")
        names = schema.get("propertyNames", {}).get("pattern")
        for key, item in value.items():
            if names and not re.search(names, str(key)):
                out.append(f"{path}: key {key!r} does not match {names}")
            if key in props:
                out += errors(item, props[key], root, f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                out.append(f"{path}: unknown key {key!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                out += errors(item, schema["additionalProperties"], root, f"{path}.{key}")
    return out


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_examples_validate_against_the_schema(example):
    schema = json.loads((RULES / "schema.json").read_text(encoding="utf-8"))
    data = yaml.safe_load(example.read_text(encoding="utf-8"))
    assert errors(data, schema, schema) == []


def test_the_validator_catches_what_the_loader_catches():
    schema = generate()
    client = {"name": "x", "numbers": ["+39 06"], "rules": [{"to": "day", "whne": {}}]}
    assert errors(client, schema, schema) != []
    shared = schema["$defs"]["Shared"]
    assert shared["required"] == ["fallback_group", "operators", "groups"]
    assert shared["additionalProperties"] is False


def test_examples_load_without_warnings():
    rules = load_rules(RULES)
    assert len(rules.clients) == 3
    assert rules.warnings == ()
