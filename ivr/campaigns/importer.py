"""Contact lists from CSV or XLSX: every row checked, numbers as E.164, duplicates merged.

read_rows() streams (line, {column: text}) from either format; parse_rows() checks each row
for the campaign's kind and returns the good contacts and a report of every bad row (line,
column, reason). Nothing here writes: store.import_contacts() does, in batches.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ivr.campaigns.model import APPOINTMENT, PROMOTION, REMINDER
from ivr.dialpolicy import NumberError, normalise

# Column names (lower case, spaces as _) and the Italian words lists often use for them.
ALIASES = {
    "number": ("numero", "telefono", "phone", "tel", "cellulare", "mobile"),
    "name": ("nome", "nominativo"),
    "debtor": ("debitore", "cliente"),
    "amount": ("importo", "amount_due", "dovuto"),
    "due_date": ("scadenza", "data_scadenza", "due"),
    "invoice": ("fattura", "numero_fattura", "invoice_ref", "riferimento"),
    "company": ("azienda", "ragione_sociale", "societa"),
    "contact_person": ("referente", "contact", "persona"),
    "address": ("indirizzo",),
    "timezone": ("fuso_orario", "zone"),
}
REQUIRED = {
    REMINDER: ("number", "debtor", "amount", "due_date", "invoice"),
    APPOINTMENT: ("number", "company", "contact_person", "address"),
    PROMOTION: ("number", "name"),
}
KNOWN = frozenset(ALIASES)
MAX_TEXT = 255
_CANONICAL = {alias: name for name, aliases in ALIASES.items() for alias in aliases}
_MONEY_JUNK = re.compile(r"[€\s]|EUR", re.I)
_DMY = re.compile(r"^([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})$")


class ImportError_(Exception):  # noqa: N801 - ImportError is Python's own
    """The file cannot be read at all (not a CSV/XLSX, no header, no number column)."""


@dataclass(frozen=True)
class BadRow:
    line: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.reason}"


@dataclass
class ParsedContact:
    line: int
    number: str  # E.164
    name: str
    zone: str | None = None
    debtor: str | None = None
    amount_due: Decimal | None = None
    due_date: date | None = None
    invoice: str | None = None
    company: str | None = None
    contact_person: str | None = None
    address: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def merge(self, other: ParsedContact) -> None:
        """Another row for the same number: a reminder adds its invoice and amount, any
        other kind keeps the first value of each field and fills the missing ones."""
        if self.invoice is not None and other.invoice is not None:
            invoices = self.extra.setdefault("invoices", [self._invoice()])
            invoices.append(other._invoice())
            self.amount_due = (self.amount_due or Decimal(0)) + (other.amount_due or Decimal(0))
            if other.due_date and (self.due_date is None or other.due_date < self.due_date):
                self.due_date = other.due_date  # the oldest unpaid one is what is said first
            self.invoice = ", ".join(i["invoice"] for i in invoices)
        for name in ("name", "zone", "debtor", "company", "contact_person", "address"):
            if not getattr(self, name) and getattr(other, name):
                setattr(self, name, getattr(other, name))
        for key, value in other.extra.items():
            self.extra.setdefault(key, value)

    def _invoice(self) -> dict[str, str]:
        return {
            "invoice": self.invoice or "",
            "amount": str(self.amount_due) if self.amount_due is not None else "",
            "due_date": self.due_date.isoformat() if self.due_date else "",
        }


@dataclass
class Parsed:
    contacts: dict[str, ParsedContact] = field(default_factory=dict)  # by number
    bad: list[BadRow] = field(default_factory=list)
    rows: int = 0
    merged: int = 0  # rows folded into an earlier row of the same number


def column_name(header: str) -> str:
    key = re.sub(r"[\s\-]+", "_", header.strip().lower())
    return _CANONICAL.get(key, key)


def spreadsheet_number(value: Any, text: str) -> str:
    """A phone number a spreadsheet stored as a number has lost its leading zero (06...
    became 6...): an Italian landline gets it back; 39... of 11 digits or more is +39...."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return text
    if len(text) >= 11 and text.startswith("39"):
        return "+" + text
    if text[:1] not in ("0", "3"):
        return "0" + text
    return text


def parse_money(text: str) -> Decimal:
    """Italian or English writing: "1.234,56", "1234,5", "1,234.56", "€ 80"."""
    cleaned = _MONEY_JUNK.sub("", text)
    if not cleaned:
        raise ValueError("no amount")
    if "," in cleaned and "." in cleaned:
        decimal_mark = "," if cleaned.rfind(",") > cleaned.rfind(".") else "."
    elif "," in cleaned:
        decimal_mark = ","
    else:
        head, _, tail = cleaned.rpartition(".")
        decimal_mark = "." if head and len(tail) != 3 else ""  # 1.234 is a thousand
        if not head:
            decimal_mark = ""
    thousands = {",": ".", ".": ","}.get(decimal_mark, ".")
    cleaned = cleaned.replace(thousands, "")
    if decimal_mark == ",":
        cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r}") from None
    if not value.is_finite() or value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError(f"not an amount in euro and cents: {text!r}")
    if value < 0:
        raise ValueError("a negative amount")
    if value >= Decimal("1e10"):
        raise ValueError("an amount too large")
    return value.quantize(Decimal("0.01"))


def parse_day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    found = _DMY.match(text)
    try:
        if found:
            day, month, year = (int(g) for g in found.groups())
            return date(year, month, day)
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date (DD/MM/YYYY or YYYY-MM-DD): {text!r}") from None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a number typed in a spreadsheet cell
    return str(value).strip()


def parse_rows(kind: str, header: list[str], rows: Iterable[tuple[int, list[Any]]]) -> Parsed:
    """Check every row; good ones are merged by number, bad ones reported."""
    columns = [column_name(h) for h in header]
    missing = [c for c in REQUIRED[kind] if c not in columns]
    if missing:
        raise ImportError_(
            f"the header has no column for {', '.join(missing)} (it has: {', '.join(header)})"
        )
    shown = {c: h.strip() for c, h in zip(columns, header, strict=True)}
    out = Parsed()
    for line, values in rows:
        if not any(_text(v) for v in values):
            continue  # a blank line
        out.rows += 1
        row = dict(zip(columns, values, strict=False))
        contact = _contact(kind, line, row, shown, out.bad)
        if contact is None:
            continue
        earlier = out.contacts.get(contact.number)
        if earlier is None:
            out.contacts[contact.number] = contact
        else:
            earlier.merge(contact)
            out.merged += 1
    return out


def _contact(
    kind: str, line: int, row: dict[str, Any], shown: dict[str, str], bad: list[BadRow]
) -> ParsedContact | None:
    problems: list[BadRow] = []

    def fail(column: str, reason: str) -> None:
        problems.append(BadRow(line, shown.get(column, column), reason))

    texts = {k: _text(v) for k, v in row.items()}
    for column in REQUIRED[kind]:
        if not texts.get(column):
            fail(column, "empty")
    for column, text in texts.items():
        if len(text) > MAX_TEXT and column != "address":
            fail(column, f"longer than {MAX_TEXT} characters")
        if any(ord(c) < 32 for c in text):
            fail(column, "control characters")
    number = ""
    if texts.get("number"):
        try:
            number = normalise(spreadsheet_number(row["number"], texts["number"]))
        except NumberError as exc:
            fail("number", str(exc))
    zone = texts.get("timezone") or None
    if zone:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            fail("timezone", f"unknown time zone {zone!r}")
    amount = due = None
    if kind == REMINDER:
        if texts.get("amount"):
            try:
                amount = parse_money(texts["amount"])
            except ValueError as exc:
                fail("amount", str(exc))
        if texts.get("due_date"):
            try:
                due = parse_day(row["due_date"])
            except ValueError as exc:
                fail("due_date", str(exc))
    if problems:
        bad.extend(problems)
        return None
    extra = {k: texts[k] for k in texts if k not in KNOWN and texts[k] and k}
    name = texts.get("name") or texts.get("debtor") or texts.get("contact_person") or ""
    return ParsedContact(
        line=line,
        number=number,
        name=name or texts.get("company", ""),
        zone=zone,
        debtor=texts.get("debtor") or None,
        amount_due=amount,
        due_date=due,
        invoice=texts.get("invoice") or None,
        company=texts.get("company") or None,
        contact_person=texts.get("contact_person") or None,
        address=texts.get("address") or None,
        extra={shown.get(k, k): v for k, v in extra.items()},
    )


# -- reading files ---------------------------------------------------------------------------


def count_rows(path: Path) -> int | None:
    """Rows in the file (for the progress bar), when it can be known cheaply."""
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True)
        try:
            return book.worksheets[0].max_row
        finally:
            book.close()
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def read_table(path: Path) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """The header and the rows (1-based line numbers, the header being line 1)."""
    if path.suffix.lower() == ".xlsx":
        return _xlsx(path)
    if path.suffix.lower() in (".csv", ".txt"):
        return _csv(path)
    raise ImportError_(f"{path.name}: a .csv or .xlsx file is needed")


def _csv(path: Path) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")  # Excel's own "CSV" on Windows
    return csv_rows(text, path.name)


def csv_rows(text: str, name: str) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """A CSV's header and rows, whatever its separator (, ; or tab: Excel writes ;)."""
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=";,\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportError_(f"{name}: the file is empty") from None
    return header, ((n, row) for n, row in enumerate(reader, start=2))


def _xlsx(path: Path) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise ImportError_(f"{path.name}: not a readable .xlsx workbook ({exc})") from None
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    try:
        header = [_text(v) for v in next(rows)]
    except StopIteration:
        book.close()
        raise ImportError_(f"{path.name}: the sheet is empty") from None

    def body() -> Iterator[tuple[int, list[Any]]]:
        try:
            for n, row in enumerate(rows, start=2):
                yield n, list(row)
        finally:
            book.close()

    return header, body()


def with_progress(
    rows: Iterator[tuple[int, list[Any]]], tick: Callable[[int], None], every: int = 1000
) -> Iterator[tuple[int, list[Any]]]:
    """Pass rows through, calling tick(n) every `every` rows (the progress bar)."""
    count = 0
    for item in rows:
        yield item
        count += 1
        if count % every == 0:
            tick(every)
    tick(count % every)
