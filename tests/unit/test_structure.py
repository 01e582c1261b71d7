"""The layering the brief asks for, checked on the source: storage knows no protocol, and
nothing but the process's wiring imports the engine."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTOCOLS = ("ivr.ami", "ivr.agi", "ivr.portal", "ivr.account")
WIRING = {"ivr/engine.py", "ivr/__main__.py", "ivr/control.py"}


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_storage_imports_no_protocol() -> None:
    for path in sorted((ROOT / "ivr" / "records").rglob("*.py")):
        wrong = {m for m in imports(path) if m.startswith(PROTOCOLS)}
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


def test_only_the_wiring_imports_the_engine() -> None:
    for folder in ("ivr", "agi_scripts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = str(path.relative_to(ROOT))
            if rel not in WIRING:
                assert "ivr.engine" not in imports(path), rel
