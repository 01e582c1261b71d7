"""The walls of docs/architecture.md, checked on the source: every row of its table of
forbidden imports against every import in ivr/ and agi_scripts/ (at any depth, lazy and
TYPE_CHECKING imports included)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
SECTION = "## Forbidden imports"
NAME = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Wall:
    importers: tuple[str, ...]  # "*": every module
    forbidden: tuple[str, ...]
    exempt: tuple[str, ...]
    line: int

    def applies_to(self, module: str) -> bool:
        if any(within(module, name) for name in self.exempt):
            return False
        return "*" in self.importers or any(within(module, name) for name in self.importers)

    def breaks(self, imported: str) -> bool:
        return any(within(imported, name) for name in self.forbidden)


def within(module: str, name: str) -> bool:
    return module == name or module.startswith(name + ".")


def walls(text: str) -> list[Wall]:
    """The rows of the table under SECTION."""
    found: list[Wall] = []
    inside = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("## "):
            inside = line.strip() == SECTION
            continue
        if not inside or not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or set(cells[0]) <= {"-", " "} or not NAME.search(cells[1]):
            continue  # the header and its rule
        names = [tuple(NAME.findall(cell)) for cell in cells[:3]]
        found.append(Wall(names[0], names[1], names[2], number))
    return found


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(text: str, module: str, package: bool = False) -> set[str]:
    """Every module the source names in an import, relative ones resolved; `from a import b`
    names both a and a.b (b may be a module)."""
    found: set[str] = set()
    home = module if package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package up
                up = home.split(".")[: len(home.split(".")) - (node.level - 1)]
                base = ".".join([*up, base] if base else up)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def sources() -> list[Path]:
    return sorted(
        path
        for folder in ("ivr", "agi_scripts")
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts
    )


def broken(all_walls: list[Wall], files: list[tuple[str, set[str]]]) -> list[str]:
    wrong = []
    for module, found in files:
        for wall in all_walls:
            if wall.applies_to(module):
                for imported in sorted(found):
                    if wall.breaks(imported):
                        wrong.append(
                            f"{module} imports {imported} (docs/architecture.md:{wall.line})"
                        )
    return wrong


def test_the_architecture_lists_its_forbidden_imports() -> None:
    all_walls = walls(DOC.read_text())
    assert len(all_walls) >= 10
    known = {module_of(p) for p in sources()}
    for wall in all_walls:
        for name in (*wall.importers, *wall.forbidden, *wall.exempt):
            # a misspelt name would make its row check nothing
            assert name == "*" or any(within(m, name) for m in known), (
                f"docs/architecture.md:{wall.line}: no module {name}"
            )


def test_no_forbidden_import() -> None:
    files = [
        (module_of(p), imports(p.read_text(), module_of(p), p.name == "__init__.py"))
        for p in sources()
    ]
    wrong = broken(walls(DOC.read_text()), files)
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("module", "imported", "caught"),
    [
        ("ivr.campaigns.results", "ivr.billing.audit", True),
        ("ivr.routing.replay", "ivr.records.repo", True),
        ("ivr.records.report", "ivr.routing.load", True),
        ("ivr.campaigns.console", "ivr.portal.app", True),
        ("ivr.putthrough.console", "ivr.portal.extension", False),
        ("ivr.engine", "ivr.harness.stack", True),
        ("ivr.harness.stack", "ivr.harness.sipp", False),
        ("ivr.__main__", "ivr.harness.demo", False),
        ("agi_scripts.inbound", "ivr.engine", True),
        ("ivr.control", "ivr.engine", False),
        ("ivr.escalation.store", "ivr.oncall.store", False),
        ("ivr.scripts.feature", "ivr.oncall.store", False),
        ("ivr.escalation.store", "ivr.oncall.console", True),
        ("ivr.oncall.store", "ivr.escalation.store", True),
        ("ivr.oncall.console", "ivr.scripts", True),
    ],
)
def test_an_added_forbidden_import_fails(module: str, imported: str, caught: bool) -> None:
    """The check itself: each wall catches an import across it and lets its exceptions be."""
    wrong = broken(walls(DOC.read_text()), [(module, {imported})])
    assert bool(wrong) is caught, wrong


def test_a_relative_import_is_resolved() -> None:
    found = imports("from ..billing import audit\nfrom .model import Campaign", "ivr.campaigns.x")
    assert {"ivr.billing.audit", "ivr.campaigns.model"} <= found


ROOM_LINES = 600  # the house's size of a room: a module over it is two


def test_no_room_over_the_house_size() -> None:
    big = [
        f"{path.relative_to(ROOT)}: {lines} lines"
        for path in sources()
        if (lines := len(path.read_text().splitlines())) > ROOM_LINES
    ]
    assert not big, big


# The machine's time of day is read in ivr/clock.py alone; everything else takes "now" from the
# services' clock or a clock passed in (time.monotonic() for intervals is fine).
CLOCK = ROOT / "ivr" / "clock.py"
MACHINE_NOW = re.compile(r"\b(?:datetime\.now|datetime\.utcnow|date\.today|time\.time)\(")
# A lease's and a node's heartbeat are compared across engines on SQLite: the machine's epoch
# stands in for the database's clock there (PostgreSQL's own clock_timestamp() elsewhere).
SHARED_EPOCH = {ROOT / "ivr" / "records" / "leases.py", ROOT / "ivr" / "nodes" / "store.py"}


def machine_clock_reads(text: str) -> list[int]:
    return [n for n, line in enumerate(text.splitlines(), 1) if MACHINE_NOW.search(line)]


def test_only_the_clock_reads_the_machines_time() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sources()
        if path != CLOCK and "harness" not in path.parts
        for line in machine_clock_reads(path.read_text())
        if not (path in SHARED_EPOCH and "time.time()" in path.read_text().splitlines()[line - 1])
    ]
    assert not wrong, wrong


def test_a_machine_clock_read_is_caught() -> None:
    assert machine_clock_reads("x = 1\nnow = datetime.now(UTC)\nt = time.time()\n") == [2, 3]
    assert machine_clock_reads("t = time.monotonic()\nnow = services.clock()\n") == []


def test_every_test_module_has_a_name_of_its_own() -> None:
    """pytest imports test modules by their base name (no packages under tests/): two files
    of one name in two folders fail the whole collection ("import file mismatch"), which a
    run of one folder does not show."""
    seen: dict[str, Path] = {}
    twice = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        if path.name in seen:
            twice.append(f"{seen[path.name].relative_to(ROOT)} and {path.relative_to(ROOT)}")
        seen.setdefault(path.name, path)
    assert not twice, twice
