"""Catalogues, language choice, local formats, and a guard: every message the code and the
templates show has its Italian translation."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from ivr import i18n

PACKAGE = Path(i18n.__file__).resolve().parent
KEYWORDS = {"tr": (2,), "trn": (2, 3), "_": None, "gettext": None, "ngettext": (1, 2)}
METHODS = [
    ("**.py", "python"),
    ("**/templates/**.html", "jinja2"),
    ("**/templates/**.txt", "jinja2"),
]


def test_every_message_shown_has_an_italian_translation() -> None:
    wanted = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(PACKAGE),
        METHODS,
        keywords=KEYWORDS,
        options_map={"**/templates/**": {"extensions": "jinja2.ext.i18n"}},
    ):
        wanted.add(message[0] if isinstance(message, tuple) else message)
    translated = set()
    for path in i18n.catalogue_files("it"):
        with path.open("rb") as handle:
            for entry in read_po(handle, locale="it"):
                if entry.id and entry.string and not entry.fuzzy:
                    translated.add(entry.id if isinstance(entry.id, str) else entry.id[0])
    missing = sorted(wanted - translated)
    assert not missing, f"messages with no Italian translation: {missing[:20]}"


def test_catalogues_of_several_packages_merge(tmp_path: Path) -> None:
    for package, (msgid, msgstr) in {
        "a": ("Calls", "Chiamate"),
        "b": ("Messages", "Messaggi"),
    }.items():
        folder = tmp_path / package / "locale"
        folder.mkdir(parents=True)
        (folder / "it.po").write_text(
            f'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
            f'msgid "{msgid}"\nmsgstr "{msgstr}"\n\n'
            '#, fuzzy\nmsgid "Draft"\nmsgstr "Bozza"\n'
        )
    merged = i18n.load_catalogues(i18n.catalogue_files("it", tmp_path), "it")
    assert merged.gettext("Calls") == "Chiamate"
    assert merged.gettext("Messages") == "Messaggi"
    assert merged.gettext("Draft") == "Draft"  # a fuzzy entry is not yet a translation
    assert merged.gettext("Unknown") == "Unknown"


def test_language_choice() -> None:
    assert i18n.language(None) == "it"
    assert i18n.language("en-GB") == "en"
    assert i18n.language("de") == "it"
    assert i18n.negotiate("de-DE,de;q=0.9,en;q=0.8,it;q=0.5") == "en"
    assert i18n.negotiate("fr") == "it"
    assert i18n.negotiate("en;q=0, it") == "it"
    assert i18n.negotiate("") == "it"


def test_times_are_shown_in_the_client_zone_and_the_user_locale() -> None:
    at = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)  # 00:30 the next day in Rome (CEST)
    assert i18n.local_time(at, "Europe/Rome", "it") == "00:30"
    assert i18n.local_date(at, "it", "short", zone="Europe/Rome") == "02/07/26"
    assert "2 lug 2026" in i18n.local_datetime(at, "Europe/Rome", "it", "medium")
    assert i18n.money(Decimal("1234.5"), "it") == "1.234,50\xa0€"
    assert i18n.number(Decimal("1234.5"), "en") == "1,234.5"


def test_templates_translate_and_escape(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text('{{ _("Hello %(name)s", name=who) }} {{ at|hour(zone) }}')
    templates = i18n.Templates(tmp_path)
    at = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    text = templates.render("page.html", "en", who="<b>", at=at, zone="Europe/Rome")
    assert text == "Hello &lt;b&gt; 13:00"
