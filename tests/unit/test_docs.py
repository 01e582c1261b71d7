"""The manual keeps up with the code: every setting, every command and option, every key of the
rules and campaign files has its line in docs/reference/, and every relative link in the
README and docs/ leads to a file (and a heading) that exists."""

from __future__ import annotations

import argparse
import dataclasses
import re
import typing
from collections.abc import Iterator
from pathlib import Path

from ivr.__main__ import parser
from ivr.campaigns.spec import CampaignSpec
from ivr.config import Settings
from ivr.routing.source import Spec, spec_fields
from ivr.routing.spec import ClientSpec, SharedSpec

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"


# -- settings ----------------------------------------------------------------------------------


def setting_names(cls: type = Settings, prefix: str = "") -> set[str]:
    """Every field of Settings, a nested table's fields as table.field (ports.sip)."""
    names: set[str] = set()
    for f in dataclasses.fields(cls):
        default = f.default_factory() if callable(f.default_factory) else f.default
        if dataclasses.is_dataclass(default) and not isinstance(default, type):
            names |= setting_names(type(default), f"{prefix}{f.name}.")
        else:
            names.add(prefix + f.name)
    return names


def documented_settings() -> list[str]:
    """The first cell of each row of the settings table: | `name` | default | meaning |
    (the name with or without its backticks; the header row is not a setting)."""
    text = (REFERENCE / "settings.md").read_text()
    names = re.findall(r"(?m)^\| *`?([a-z0-9_.]+)`? *\|", text)
    return [name for name in names if name != "setting"]


def test_every_setting_has_a_row() -> None:
    missing = setting_names() - set(documented_settings())
    assert not missing, f"docs/reference/settings.md has no row for {sorted(missing)}"


def test_every_row_names_a_setting() -> None:
    rows = documented_settings()
    unknown = set(rows) - setting_names()
    assert not unknown, f"docs/reference/settings.md describes no such setting: {sorted(unknown)}"
    twice = {name for name in rows if rows.count(name) > 1}
    assert not twice, f"docs/reference/settings.md has two rows for {sorted(twice)}"


# -- commands ----------------------------------------------------------------------------------


def commands(
    parser_: argparse.ArgumentParser, path: str = "ivr"
) -> Iterator[tuple[str, list[str]]]:
    """Every subcommand's full name (`ivr campaign dnc`) with its option strings."""
    options = [
        option
        for action in parser_._actions
        if not isinstance(action, argparse._HelpAction)
        for option in action.option_strings
    ]
    yield path, options
    for action in parser_._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, f"{path} {name}")


def test_every_command_and_option_is_in_the_reference() -> None:
    text = (REFERENCE / "commands.md").read_text()
    missing = [path for path, _ in commands(parser()) if f"`{path}" not in text]
    assert not missing, f"docs/reference/commands.md does not show {missing}"
    options = {
        f"{path} {option}"
        for path, found in commands(parser())
        for option in found
        if not re.search(rf"{re.escape(option)}\b", text)
    }
    assert not options, f"docs/reference/commands.md does not show {sorted(options)}"


# -- the rules and campaign files --------------------------------------------------------------


def spec_classes(cls: type, seen: set[type] | None = None) -> set[type]:
    """cls and every Spec class its fields hold, however nested (lists, maps, unions)."""
    seen = set() if seen is None else seen
    if cls in seen:
        return seen
    seen.add(cls)

    def walk(hint: object) -> None:
        if isinstance(hint, type) and issubclass(hint, Spec):
            spec_classes(hint, seen)
        for inner in typing.get_args(hint):
            walk(inner)

    for info in spec_fields(cls):
        walk(info.hint)
    return seen


def keys_in(path: Path) -> set[str]:
    return set(re.findall(r"(?m)^\| `([a-z_]+)` \|", path.read_text()))


def test_every_key_of_the_rules_files_is_in_the_reference() -> None:
    keys = keys_in(REFERENCE / "rules.md")
    classes = spec_classes(SharedSpec) | spec_classes(ClientSpec)
    missing = {f"{c.__name__}.{i.name}" for c in classes for i in spec_fields(c)}
    missing = {name for name in missing if name.split(".")[1] not in keys}
    assert not missing, f"docs/reference/rules.md does not describe {sorted(missing)}"


def test_every_key_of_the_campaign_files_is_in_the_reference() -> None:
    keys = keys_in(REFERENCE / "campaigns.md")
    missing = {
        f"{c.__name__}.{i.name}"
        for c in spec_classes(CampaignSpec)
        for i in spec_fields(c)
        if i.name not in keys
    }
    assert not missing, f"docs/reference/campaigns.md does not describe {sorted(missing)}"


# -- links -------------------------------------------------------------------------------------

LINK = re.compile(r"\]\(([^)\s]+)\)|(?:src|href)=\"([^\"]+)\"")
FENCE = re.compile(r"(?ms)^```.*?^```")


def manual() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def prose(text: str) -> str:
    """The text without code: fenced blocks, indented blocks and `code spans`."""
    text = FENCE.sub("", text)
    lines = [line for line in text.splitlines() if not line.startswith(("    ", "\t"))]
    return re.sub(r"`[^`\n]*`", "", "\n".join(lines))


def anchors(path: Path) -> set[str]:
    """The ids a Markdown page's headings get (GitHub's rule: lower case, punctuation
    dropped, spaces as hyphens; a repeated heading gets -1, -2...)."""
    found: set[str] = set()
    for heading in re.findall(r"(?m)^#{1,6} +(.+?) *#*$", FENCE.sub("", path.read_text())):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
        slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in found:
            n += 1
            candidate = f"{slug}-{n}"
        found.add(candidate)
    return found


def test_every_relative_link_leads_somewhere() -> None:
    broken = []
    for page in manual():
        for match in LINK.finditer(prose(page.read_text())):
            target = match.group(1) or match.group(2)
            if re.match(r"^[a-z]+:", target):  # https:, mailto:
                continue
            file, _, anchor = target.partition("#")
            where = (page.parent / file).resolve() if file else page
            name = f"{page.relative_to(ROOT)}: {target}"
            if not where.exists():
                broken.append(f"{name} (no such file)")
            elif anchor and where.suffix == ".md" and anchor not in anchors(where):
                broken.append(f"{name} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_manual_has_every_page_it_promises() -> None:
    pages = {
        "index.md", "operators.md", "screening.md", "escalation.md", "area.md",
        "campaigns.md", "billing.md", "cluster.md", "security.md", "operations.md",
        "benchmarks.md", "architecture.md", "reference/commands.md", "reference/settings.md",
        "reference/rules.md", "reference/campaigns.md", "it/operatori.md", "it/area-clienti.md",
    }  # fmt: skip
    missing = sorted(page for page in pages if not (DOCS / page).is_file())
    assert not missing, f"docs/ lacks {missing}"
