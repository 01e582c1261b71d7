"""load_campaigns(): read routing_rules/campaigns/*.yaml, check every reference against the
routing rules, build the runtime Campaigns. Every problem is reported as FILE:LINE:COL, like
the routing rules (`ivr check` checks both)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ivr.campaigns import floor
from ivr.campaigns import spec as s
from ivr.campaigns.extensions import registered
from ivr.campaigns.model import (
    APPOINTMENT,
    DEFAULT_RETRY_MINUTES,
    REMINDER,
    Campaign,
    Campaigns,
    FormField,
    Salesperson,
)
from ivr.campaigns.windows import CallingWindow, default_window, parse_ranges, split, window_of
from ivr.config import Settings
from ivr.dialpolicy import check
from ivr.routing.clock import ClockError, HolidayBook, parse_days
from ivr.routing.load import SHARED_NAMES, Compiler
from ivr.routing.model import Client, Rules
from ivr.routing.source import Problem, RulesError, Where, decode_file
from ivr.routing.spec import SharedSpec

FOLDER = "campaigns"


def campaign_files(rules_path: Path) -> list[Path]:
    folder = Path(rules_path) / FOLDER
    if not folder.is_dir():
        return []
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def files_digest(rules_path: Path) -> str:
    """What the campaign files are now (names, sizes and times): cheap, for change checks."""
    digest = hashlib.sha256()
    for file in campaign_files(rules_path):
        try:
            info = file.stat()
        except FileNotFoundError:
            continue
        digest.update(f"{file.name}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def load_campaigns(rules_path: Path, rules: Rules, settings: Settings | None = None) -> Campaigns:
    """Every campaign beside the rules at rules_path; RulesError lists every problem."""
    settings = settings or Settings()
    problems: list[Problem] = []
    for message in settings_wider(settings):
        problems.append(Problem("settings", 1, 1, message))
    specs: list[tuple[s.CampaignSpec, str]] = []
    for file in campaign_files(rules_path):
        rel = f"{FOLDER}/{file.name}"
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(file), 1, 1, f"cannot read: {exc}"))
            continue
        found = decode_file(text, str(file), s.CampaignSpec, problems)
        if found is not None:
            specs.append((found, rel))
    books = _CalendarBooks(Path(rules_path), problems)
    built: dict[str, Campaign] = {}
    for spec, rel in specs:
        campaign = _Builder(spec, rel, rules, settings, books, problems).build()
        if campaign is None:
            continue
        if campaign.id in built:
            problems.append(
                Problem.at(spec.where("id", "name"), f"duplicate campaign {campaign.id!r}")
            )
            continue
        built[campaign.id] = campaign
    for campaign, rel in [(c, c.file) for c in list(built.values())]:
        for extension in registered():
            checking = extension.derived(campaign)
            if checking is None:
                continue
            if checking.id in built:
                problems.append(
                    Problem(
                        str(Path(rules_path) / rel),
                        1,
                        1,
                        f"campaign id {checking.id!r} is the one of"
                        f" {campaign.id!r}'s verification calls: rename it",
                    )
                )
                continue
            built[checking.id] = checking
    errors = [p for p in problems if not p.warning]
    if errors:
        raise RulesError(errors)
    warnings = tuple(p for p in problems if p.warning)
    return Campaigns(built, files_digest(rules_path), warnings)


class _CalendarBooks:
    """The shared calendars by name, compiled from shared.yaml when a campaign names one."""

    def __init__(self, rules_path: Path, problems: list[Problem]) -> None:
        self.rules_path = rules_path
        self.problems = problems
        self._books: dict[str, HolidayBook] | None = None

    def get(self, name: str) -> HolidayBook | None:
        if self._books is None:
            self._books = self._compile()
        return self._books.get(name)

    def _compile(self) -> dict[str, HolidayBook]:
        shared = next(
            (self.rules_path / n for n in SHARED_NAMES if (self.rules_path / n).is_file()), None
        )
        if shared is None:
            return {}
        quiet: list[Problem] = []  # the rules' own check reports these
        spec = decode_file(shared.read_text(encoding="utf-8"), str(shared), SharedSpec, quiet)
        if spec is None:
            return {}
        compiler = Compiler(quiet, str(self.rules_path))
        return {name: compiler._calendar(name, spec.calendars, ()) for name in spec.calendars}


class _Builder:
    def __init__(
        self,
        spec: s.CampaignSpec,
        rel: str,
        rules: Rules,
        settings: Settings,
        books: _CalendarBooks,
        problems: list[Problem],
    ) -> None:
        self.spec = spec
        self.rel = rel
        self.rules = rules
        self.settings = settings
        self.books = books
        self.problems = problems
        self.ok = True

    def _terms(self) -> object | None:
        """What the client pays for results, from the file's `billing:` section: read by
        the extension that bills (None without one)."""
        spec = self.spec.billing
        if not spec:
            return None
        for extension in registered():
            terms = extension.terms(spec, self.spec.kind, self.error)
            if terms is not None:
                return terms
        return None

    def error(self, where: Where, message: str) -> None:
        self.problems.append(Problem.at(where, message))
        self.ok = False

    def warn(self, where: Where, message: str) -> None:
        self.problems.append(Problem.at(where, message, warning=True))

    def build(self) -> Campaign | None:
        spec = self.spec
        campaign_id = spec.id or Path(self.rel).stem
        client = self.rules.clients.get(spec.client)
        if client is None:
            self.error(spec.where("client"), _unknown("client", spec.client, self.rules.clients))
        operators = self._operators()
        try:
            ZoneInfo(spec.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.error(spec.where("timezone"), f"unknown time zone {spec.timezone!r}")
        start, end = self._date("start"), self._date("end")
        if start and end and end < start:
            self.error(spec.where("end"), "end is before start")
        window = self._window()
        # The national holidays are always in the book, whatever the calendars say.
        book = self._holidays(client.holidays if client else HolidayBook()).merged(NATIONAL)
        self._pacing()
        retry = dict(DEFAULT_RETRY_MINUTES)
        for name, minutes in spec.attempts.retry.items():
            if minutes < 0:
                self.error(spec.attempts.where(f"retry[{name}]"), "minutes are 0 or more")
            retry[name] = minutes
        for key in ("max", "per_day"):
            if getattr(spec.attempts, key) <= 0:
                self.error(spec.attempts.where(key), f"{key}: must be more than 0")
        form = self._form()
        salespeople = self._salespeople()
        terms = self._terms()
        self._presented(client)
        if spec.kind == REMINDER and spec.callback.strip():
            self.error(
                spec.where("callback"),
                "a reminder's call back is told the catalogue's words only (whoever calls back"
                " may not be the debtor): remove callback",
            )
        if not self.ok or client is None or window is None:
            return None
        return Campaign(
            id=campaign_id,
            name=spec.name,
            client_id=client.id,
            client_name=client.name,
            kind=spec.kind,
            groups=spec.groups,
            operators=operators,
            caller_id=spec.caller_id,
            window=window,
            holidays=book,
            zone=spec.timezone,
            start=start,
            end=end,
            mode=spec.pacing.mode,
            ratio=spec.pacing.ratio,
            max_ratio=spec.pacing.max_ratio,
            ring=spec.pacing.ring,
            preview_seconds=spec.pacing.preview_seconds,
            max_attempts=spec.attempts.max,
            per_day=spec.attempts.per_day,
            retry_minutes=retry,
            amd=spec.kind == REMINDER if spec.amd is None else spec.amd,
            own_customers=spec.own_customers,
            language=spec.language or client.card.language,
            script=spec.script,
            form=form,
            recording=spec.recording.enabled,
            announcement=spec.recording.announcement,
            callback=spec.callback,
            salespeople=salespeople,
            file=self.rel,
            billing=terms,
        )

    def _presented(self, client: Client | None) -> None:
        """The presented number: one the dial policy accepts, and not a client's own number
        (a call back to it must reach the campaign's callback IVR, and a client's callers
        must not)."""
        spec = self.spec
        where = spec.where("caller_id")
        policy = self.rules.dial_policy_for(client.id if client else None)
        verdict = check(policy, spec.caller_id)
        if not verdict.allowed:
            self.error(where, f"caller_id {spec.caller_id}: {verdict.reason}")
            return
        owner = self.rules.number_index.get(spec.caller_id) or self.rules.number_index.get(
            verdict.number
        )
        if owner is not None:
            self.error(
                where,
                f"caller_id {spec.caller_id} is a number of client {owner!r}: calls back would"
                " reach the client's routing; present a number of the center's, routed to the"
                " campaigns' callback IVR",
            )

    def _operators(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for i, group_id in enumerate(self.spec.groups):
            group = self.rules.groups.get(group_id)
            if group is None:
                self.error(
                    self.spec.where(f"groups[{i}]", "groups"),
                    _unknown("group", group_id, self.rules.groups),
                )
                continue
            seen.update(dict.fromkeys(group.members))
        if not self.spec.groups:
            self.error(self.spec.where("groups"), "a campaign needs at least one operator group")
        return tuple(seen)

    def _date(self, key: str) -> date | None:
        text = getattr(self.spec, key)
        if text is None:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.error(self.spec.where(key), f"{key}: no such day {text!r}")
            return None

    def _window(self) -> CallingWindow | None:
        spec, st = self.spec, self.settings
        if spec.hours is None:
            try:
                return default_window(
                    spec.kind,
                    st.campaign_hours_weekdays,
                    st.campaign_hours_saturday,
                    st.campaign_hours_eve,
                    st.reminder_hours_weekdays,
                    st.reminder_hours_saturday,
                )
            except ClockError as exc:
                self.error(spec.at, f"the center's default calling hours: {exc}")
                return None
        for key, texts in spec.hours.items():
            where = spec.where(f"hours{{{key}}}", "hours")
            try:
                window_of({key: texts})
            except ClockError as exc:
                self.error(where, str(exc))
                continue
            why = _wider(spec.kind, key, texts)
            if why is not None:
                self.error(where, f"hours: {why}")
        if not self.ok:
            return None
        return window_of(spec.hours)

    def _holidays(self, client_book: HolidayBook) -> HolidayBook:
        spec = self.spec
        if spec.calendars is None:
            return client_book
        book = HolidayBook()
        for i, name in enumerate(spec.calendars):
            found = self.books.get(name) if name in self.rules.calendars else None
            if found is None:
                self.error(
                    spec.where(f"calendars[{i}]", "calendars"),
                    _unknown("calendar", name, self.rules.calendars),
                )
                continue
            book = book.merged(found)
        return book

    def _pacing(self) -> None:
        p = self.spec.pacing
        if p.ring <= 0:
            self.error(p.where("ring"), "ring: must be more than 0")
        if p.ratio < 1:
            self.error(p.where("ratio"), "ratio: at least 1 line per free operator")
        if p.max_ratio < p.ratio:
            self.error(p.where("max_ratio"), "max_ratio is below ratio")
        if p.preview_seconds < 0:
            self.error(p.where("preview_seconds"), "preview_seconds: 0 or more")

    def _form(self) -> tuple[FormField, ...]:
        out = []
        for name, f in self.spec.form.items():
            if f.type == "choice" and not f.choices:
                self.error(f.where("type"), f"field {name!r}: a choice needs its choices")
            out.append(FormField(name, f.label, f.type, f.choices, f.required))
        return tuple(out)

    def _salespeople(self) -> dict[str, Salesperson]:
        spec = self.spec
        out: dict[str, Salesperson] = {}
        for sid, person in spec.salespeople.items():
            try:
                window = window_of(person.hours)
            except ClockError as exc:
                self.error(person.where("hours"), str(exc))
                continue
            if person.slot <= 0:
                self.error(person.where("slot"), "slot: must be more than 0")
            out[sid] = Salesperson(sid, person.name, window, person.slot)
        if spec.kind == APPOINTMENT and not spec.salespeople:
            self.error(spec.where("kind"), "an appointment campaign needs its salespeople")
        elif spec.kind != APPOINTMENT and spec.salespeople:
            self.warn(spec.where("salespeople"), "salespeople are for appointment campaigns")
        return out


NATIONAL = floor.national_book()


def _wider(kind: str, key: str, texts: tuple[str, ...] | list[str]) -> str | None:
    """Why a file's or a setting's hours for these day(s) go beyond the legal floor."""
    ranges = parse_ranges(texts)
    if key.strip().lower() == "eve":
        return floor.wider_eve(kind, ranges)
    for day in parse_days(key):
        why = floor.wider(kind, day, ranges)
        if why is not None:
            return why
    return None


def settings_wider(settings: Settings) -> list[str]:
    """The campaign settings that would widen the legal floor (the engine does not start)."""
    out = []
    hours = (
        ("campaign_hours_weekdays", "promotion", "mon-fri"),
        ("campaign_hours_saturday", "promotion", "sat"),
        ("campaign_hours_eve", "promotion", "eve"),
        ("reminder_hours_weekdays", "reminder", "mon-fri"),
        ("reminder_hours_saturday", "reminder", "sat"),
    )
    for name, kind, key in hours:
        try:
            why = _wider(kind, key, split(getattr(settings, name)))
        except ClockError as exc:
            why = str(exc)
        if why is not None:
            out.append(f"setting {name!r}: {why}")
    if settings.campaign_drop_cap > floor.ABANDON_CAP:
        out.append(
            f"setting 'campaign_drop_cap': {settings.campaign_drop_cap} is above the legal"
            f" {floor.ABANDON_CAP} (3 % of the answered calls per campaign per day)"
        )
    if settings.campaign_drop_rest_days < floor.ABANDON_REST_DAYS:
        out.append(
            f"setting 'campaign_drop_rest_days': {settings.campaign_drop_rest_days} is below"
            f" the legal {floor.ABANDON_REST_DAYS} days"
        )
    if settings.campaign_drop_wait * 1000 > floor.ANSWER_BUDGET_MS:
        out.append("setting 'campaign_drop_wait': at most 2 s (the limit is 3 s from the answer)")
    if not 0 < settings.campaign_register_max_days <= floor.REGISTER_MAX_DAYS:
        out.append(
            f"setting 'campaign_register_max_days': {settings.campaign_register_max_days} is"
            f" not 1 to {floor.REGISTER_MAX_DAYS} (a register check is valid 15 days)"
        )
    if not 0 <= settings.own_customers_days <= floor.OWN_CUSTOMERS_MAX_DAYS:
        out.append(
            f"setting 'own_customers_days': {settings.own_customers_days} is not 0 to"
            f" {floor.OWN_CUSTOMERS_MAX_DAYS}"
        )
    return out


def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
    names = sorted(known)
    listed = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    return f"unknown {kind} {name!r}" + (f"; known: {listed}" if names else "")
