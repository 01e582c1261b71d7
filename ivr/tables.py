"""The one writer of tables people open in a spreadsheet: every CSV and XLSX the engine gives
out (the area's calls export, billing statements, `ivr calls --csv`, campaign reports and
import errors) is written here.

A text cell a spreadsheet would read as a formula (it starts with = + - @, a tab or a carriage
return, possibly after spaces) is written with a leading apostrophe, so that
`=HYPERLINK("http://x")` in a caller's name shows as text and never runs (CSV injection, OWASP).
Numbers given as numbers (int, Decimal: amounts, counts) are written as they are, a negative
amount included; a number given as text (a phone number "+39...") is text and is guarded.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import IO

Cell = str | int | float | Decimal | None
Row = Sequence[Cell]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def neutral(value: Cell) -> str | int | float | Decimal:
    """The value as a spreadsheet must show it: text that can never run."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float | Decimal):
        return value
    text = str(value)
    if text.startswith(FORMULA_START) or text.lstrip(" ").startswith(FORMULA_START):
        return "'" + text
    return text


def write_csv(handle: IO[str], rows: Iterable[Row]) -> None:
    """Rows to an open text file (opened with newline="") or to stdout."""
    writer = csv.writer(handle)
    for row in rows:
        writer.writerow([neutral(v) for v in row])


def csv_text(rows: Iterable[Row]) -> str:
    out = io.StringIO()
    write_csv(out, rows)
    return out.getvalue()


def xlsx_bytes(rows: Iterable[Row]) -> bytes:
    """A one-sheet workbook of rows (openpyxl would store "=..." text as a formula: the
    cells are neutralised, and text is stored as text)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=neutral(value))
            if isinstance(cell.value, str):
                cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
