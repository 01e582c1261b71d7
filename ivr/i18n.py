"""Words users read, in their language: gettext catalogues (Babel), Italian first, English.

Messages are written in English in the code and templates (the gettext msgid); each package
that shows words keeps its Italian translations in `<package>/locale/it.po`. All of them are
merged into one catalogue per language when first asked for. English needs no catalogue.

Dates, times, numbers and money are formatted by Babel for the user's locale, and times are
always shown in the client's own time zone.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from babel import Locale, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

PACKAGE = Path(__file__).resolve().parent
LANGUAGES = ("it", "en")
DEFAULT_LANGUAGE = "it"
SOURCE_LANGUAGE = "en"  # the language of the msgids: it needs no catalogue
LOCALES = {"it": "it_IT", "en": "en_GB"}  # how numbers and dates are written


def language(value: str | None) -> str:
    """A supported language code for value ("it", "en-GB", None, ...): Italian by default."""
    code = (value or "").strip().lower().replace("_", "-").split("-", 1)[0]
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def negotiate(accept_language: str | None) -> str:
    """The language a browser prefers among ours, from its Accept-Language header."""
    choices: list[tuple[float, int, str]] = []
    for n, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        code = tag.strip().lower().split("-", 1)[0]
        if code in LANGUAGES and quality > 0:
            choices.append((-quality, n, code))
    return min(choices)[2] if choices else DEFAULT_LANGUAGE


def catalogue_files(lang: str, root: Path = PACKAGE) -> list[Path]:
    """Every package's catalogue for lang, in a stable order."""
    return sorted(root.glob(f"**/locale/{lang}.po"))


def load_catalogues(files: Iterable[Path], lang: str) -> NullTranslations:
    """The catalogues merged into one (fuzzy entries are not used)."""
    merged: Translations | None = None
    for path in files:
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=lang)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        loaded = Translations(compiled)
        merged = loaded if merged is None else merged.merge(loaded)
    return merged or NullTranslations()


@functools.cache
def translations(lang: str) -> NullTranslations:
    """One merged catalogue per language, read once."""
    lang = language(lang)
    if lang == SOURCE_LANGUAGE:
        return NullTranslations()
    return load_catalogues(catalogue_files(lang), lang)


# Python code says tr(lang, "...") and trn(lang, "...", "...", n): tests/unit/test_i18n.py
# extracts these (and the templates' _() and {% trans %}) and checks each has its Italian.
def tr(lang: str, message: str, **values: Any) -> str:
    """message in lang, with %(name)s placeholders filled from values."""
    text = translations(lang).gettext(message)
    return text % values if values else text


def trn(lang: str, singular: str, plural: str, n: int, **values: Any) -> str:
    text = translations(lang).ngettext(singular, plural, n)
    return text % {"num": n, **values}


def locale_of(lang: str) -> Locale:
    return Locale.parse(LOCALES[language(lang)])


def local_datetime(value: datetime | None, zone: str, lang: str, form: str = "short") -> str:
    """An aware datetime as the user reads it, in the client's time zone; "" for None."""
    if value is None:
        return ""
    return dates.format_datetime(value, form, tzinfo=ZoneInfo(zone), locale=locale_of(lang))


def local_date(
    value: date | datetime | None, lang: str, form: str = "medium", zone: str = ""
) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime) and zone:
        value = value.astimezone(ZoneInfo(zone))
    return dates.format_date(value, form, locale=locale_of(lang))


def local_time(value: datetime | None, zone: str, lang: str, form: str = "short") -> str:
    if value is None:
        return ""
    return dates.format_time(value, form, tzinfo=ZoneInfo(zone), locale=locale_of(lang))


def number(value: int | float | Decimal, lang: str) -> str:
    return numbers.format_decimal(value, locale=locale_of(lang))


def money(value: Decimal | int, lang: str, currency: str = "EUR") -> str:
    return numbers.format_currency(value, currency, locale=locale_of(lang))


def jinja_environment(
    folders: Iterable[Path], lang: str, filters: dict[str, Callable[..., Any]] | None = None
) -> jinja2.Environment:
    """A template environment speaking lang: `{{ _("...") }}` and `{% trans %}`, autoescaped,
    StrictUndefined, with filters for local times (`|when(zone)`, `|day`, `|hour(zone)`),
    numbers (`|number`) and money (`|money`)."""
    lang = language(lang)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(folder) for folder in folders]),
        # Every value is text: a caller's name or message is never markup. Plain-text
        # templates (*.txt: emails) are not HTML, so nothing is escaped in them.
        autoescape=jinja2.select_autoescape(
            enabled_extensions=(), disabled_extensions=("txt",), default=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.globals["lang"] = lang
    env.filters["when"] = lambda value, zone="UTC", form="short": local_datetime(
        value, zone, lang, form
    )
    env.filters["day"] = lambda value, form="medium", zone="": local_date(value, lang, form, zone)
    env.filters["hour"] = lambda value, zone="UTC", form="short": local_time(
        value, zone, lang, form
    )
    env.filters["number"] = lambda value: number(value, lang)
    env.filters["money"] = lambda value, currency="EUR": money(value, lang, currency)
    env.filters.update(filters or {})
    return env


class Templates:
    """One Jinja2 environment per language over the same folders, made when first used."""

    def __init__(
        self, *folders: Path, filters: dict[str, Callable[..., Any]] | None = None
    ) -> None:
        self.folders = folders
        self.filters = filters or {}
        self._envs: dict[str, jinja2.Environment] = {}

    def env(self, lang: str) -> jinja2.Environment:
        lang = language(lang)
        if lang not in self._envs:
            self._envs[lang] = jinja_environment(self.folders, lang, self.filters)
        return self._envs[lang]

    def render(self, name: str, lang: str, **context: Any) -> str:
        return self.env(lang).get_template(name).render(**context)
