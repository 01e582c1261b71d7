"""Contact lists, claims, outcomes and appointments on a real database (SQLite, and the
claims also on a real PostgreSQL): storage without Asterisk."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from openpyxl import Workbook
from pg_server import new_database
from sqlalchemy import select

from ivr.__main__ import main
from ivr.campaigns import dialcheck, importer, lists, results, store
from ivr.campaigns.load import load_campaigns
from ivr.campaigns.model import Campaign
from ivr.campaigns.models import Appointment, Contact, DoNotCall
from ivr.campaigns.outcomes import free_slots, read_outcome, slot_key
from ivr.dialpolicy import DialPolicy
from ivr.records import db
from ivr.routing import load_rules

pytestmark = pytest.mark.anyday  # reads the date: tests/anyday runs it at fixed dates

RULES = Path(__file__).resolve().parents[2] / "routing_rules"
CAMPAIGNS = load_campaigns(RULES, load_rules(RULES))
REMINDERS = CAMPAIGNS.by_id["rossi-solleciti"]
VALUATIONS = CAMPAIGNS.by_id["casa-bella-appuntamenti"]
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # a Wednesday, 11:00 in Rome


@pytest_asyncio.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[store.Sessions]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}"
    await db.upgrade(url)
    engine = db.make_engine(url)
    try:
        yield db.session_factory(engine)
    finally:
        await engine.dispose()


def parse(campaign: Campaign, header: list[str], rows: list[list[Any]]) -> importer.Parsed:
    return importer.parse_rows(campaign.kind, header, enumerate(rows, start=2))


def test_every_bad_row_is_reported_with_line_column_and_reason() -> None:
    parsed = parse(
        REMINDERS,
        ["Telefono", "Debitore", "Importo", "Scadenza", "Fattura", "Note"],
        [
            ["06 1234567", "Mario", "1.234,56", "15/10/2026", "F1", "cortese"],
            ["abc", "Luca", "10", "15/10/2026", "F2", ""],
            ["3331234567", "", "12,345", "31/02/2026", "F3", ""],
            ["", "", "", "", "", ""],  # a blank line is skipped, not reported
            ["+39 06-1234567", "Mario", "100", "2026-09-01", "F4", ""],  # the same number
        ],
    )
    assert [str(b) for b in parsed.bad] == [
        "line 3, column Telefono: a number has only digits, spaces and an optional leading +",
        "line 4, column Debitore: empty",
        "line 4, column Importo: not an amount in euro and cents: '12,345'",
        "line 4, column Scadenza: not a date (DD/MM/YYYY or YYYY-MM-DD): '31/02/2026'",
    ]
    assert parsed.rows == 4 and parsed.merged == 1
    [mario] = parsed.contacts.values()
    assert mario.number == "+39061234567"  # an Italian number without a prefix gets +39
    assert mario.amount_due == Decimal("1334.56")  # two invoices, merged
    assert mario.invoice == "F1, F4" and mario.due_date == date(2026, 9, 1)
    assert mario.extra["Note"] == "cortese"
    assert [i["invoice"] for i in mario.extra["invoices"]] == ["F1", "F4"]


def test_a_missing_column_is_refused_with_what_the_header_has() -> None:
    with pytest.raises(importer.ImportError_, match="no column for invoice"):
        parse(REMINDERS, ["numero", "debitore", "importo", "scadenza"], [])


async def test_a_list_is_imported_and_a_second_one_merged_into_it(
    sessions: store.Sessions, tmp_path: Path
) -> None:
    path = tmp_path / "list.xlsx"
    book = Workbook()
    sheet = book.active
    sheet.append(["Numero", "Debitore", "Importo", "Scadenza", "Fattura"])
    # a number cell: the spreadsheet dropped the landline's leading zero
    sheet.append([612345678, "Mario", 1250.5, datetime(2026, 10, 15), "F1"])
    sheet.append(["3331234567", "Anna", "80", "2026-10-20", "F2"])
    book.save(path)
    header, rows = importer.read_table(path)
    first = await lists.import_contacts(
        sessions, REMINDERS, importer.parse_rows("reminder", header, rows), path.name, NOW
    )
    assert (first.added, first.merged, first.bad) == (2, 0, 0)
    again = parse(REMINDERS, ["numero", "debitore", "importo", "scadenza", "fattura"],
                  [["0612345678", "Mario", "49,50", "01/09/2026", "F9"]])  # fmt: skip
    second = await lists.import_contacts(sessions, REMINDERS, again, "more.csv", NOW)
    assert (second.added, second.merged) == (0, 1)
    async with sessions() as session:
        contacts = list(await session.scalars(select(Contact).order_by(Contact.id)))
    assert [c.number for c in contacts] == ["+390612345678", "+393331234567"]
    assert contacts[0].amount_due == Decimal("1300.00") and contacts[0].invoice == "F1, F9"


def test_the_command_imports_a_large_csv_and_reports_its_bad_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_DB_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("IVR_INSTANCE", f"unit{id(tmp_path)}")
    monkeypatch.setenv("IVR_AMI_SECRET", "x")
    monkeypatch.setenv("IVR_CLOCK_START", "2026-12-02T10:00:00Z")  # the import's day
    path = tmp_path / "big.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["numero", "debitore", "importo", "scadenza", "fattura"])
        for n in range(5000):
            writer.writerow([f"06 {5000000 + n}", f"Cliente {n}", "10,00", "15/10/2026", f"F{n}"])
        writer.writerow(["06 5000001", "Doppio", "5", "16/10/2026", "F-dup"])
        writer.writerow(["06 12 ab", "Sbagliato", "5", "16/10/2026", "F-bad"])
    assert main(["campaign", "import", "rossi-solleciti", str(path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "big.csv: line 5003, column numero: a number has only digits" in out
    assert "list #1: 5002 rows, 5000 new contacts, 1 merged, 1 bad rows" in out
    assert main(["campaign", "list"]) == 0
    assert "0/5000 contacts done" in capsys.readouterr().out
    register = tmp_path / "rpo.csv"
    register.write_text("numero\n06 5000002\n")
    assert main(["campaign", "rpo", "rossi-solleciti", str(register), "--checked-on",
                 "2026-12-03"]) == 2  # fmt: skip
    assert "after today" in capsys.readouterr().err  # a check in the future is refused
    assert main(["campaign", "rpo", "rossi-solleciti", str(register), "--checked-on",
                 "2026-12-01"]) == 0  # fmt: skip
    assert "imported after 2026-12-01: not stamped" in capsys.readouterr().out
    assert main(["campaign", "rpo", "rossi-solleciti", str(register), "--checked-on",
                 "2026-12-02"]) == 0  # fmt: skip
    assert "1 numbers found in the register" in capsys.readouterr().out
    assert main(["campaign", "dnc", "add", "center", "+39065000003"]) == 0
    assert "1 numbers added" in capsys.readouterr().out
    assert main(["campaign", "start", "rossi-solleciti"]) == 0
    assert "running; no engine is running" in capsys.readouterr().out
    assert main(["campaign", "report", "rossi-solleciti", "--json"]) == 0
    assert '"left": 4999' in capsys.readouterr().out


async def claim(sessions: store.Sessions, campaign: Campaign, engine: str, n: int,
                now: datetime = NOW) -> list[store.Claimed]:  # fmt: skip
    return await store.claim(
        sessions, campaign, engine=engine, now=now, operators=[f"op{i}" for i in range(n)],
        policy=DialPolicy(), register_max_days=15,
    )  # fmt: skip


async def fill(sessions: store.Sessions, campaign: Campaign, count: int) -> None:
    header = ["numero", "debitore", "importo", "scadenza", "fattura"]
    rows = [[f"06{7000000 + n}", f"D{n}", "10", "2026-10-01", f"F{n}"] for n in range(count)]
    await lists.import_contacts(sessions, campaign, parse(campaign, header, rows), "l", NOW)


async def test_racing_claimers_never_claim_a_contact_twice(sessions: store.Sessions) -> None:
    await fill(sessions, REMINDERS, 30)
    got = await asyncio.gather(*(claim(sessions, REMINDERS, f"e{k}", 4) for k in range(6)),
                               return_exceptions=True)  # fmt: skip
    claimed = [c for batch in got if isinstance(batch, list) for c in batch]
    ids = [c.contact.id for c in claimed]
    assert len(ids) == len(set(ids)) and ids
    assert all(c.attempt is not None and c.attempt.seq == 1 for c in claimed)


async def test_two_engines_on_postgresql_skip_each_others_claims(postgres_server: str) -> None:
    url = await new_database(postgres_server)
    await db.upgrade(url)
    engines = [db.make_engine(url) for _ in range(2)]
    try:
        a, b = (db.session_factory(e) for e in engines)
        await fill(a, REMINDERS, 40)
        rounds = await asyncio.gather(*(claim(s, REMINDERS, f"e{k}", 5)
                                        for k, s in enumerate([a, b] * 4)))  # fmt: skip
        ids = [c.contact.id for batch in rounds for c in batch]
        assert len(ids) == 40 and len(set(ids)) == 40
        assert all(len(batch) == 5 for batch in rounds)  # nobody waited out a lock
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_dropped_call_rests_the_number_five_days_in_every_campaign(
    sessions: store.Sessions,
) -> None:
    await fill(sessions, REMINDERS, 1)
    [claimed] = await claim(sessions, REMINDERS, "e", 1)
    assert claimed.attempt is not None
    linkedid = claimed.attempt.linkedid
    await store.note(sessions, linkedid, answered_at=NOW, dropped_at=NOW)
    closed = await store.close_attempt(sessions, CAMPAIGNS.get, linkedid, "hung-up", NOW, None, 5)
    assert closed is not None and closed.system_outcome == "dropped"
    assert (
        await store.close_attempt(sessions, CAMPAIGNS.get, linkedid, "busy", NOW, None, 5) is None
    )
    [contact] = await claim(sessions, REMINDERS, "e", 1, NOW + timedelta(days=4)) or [None]
    assert contact is None  # still resting
    async with sessions() as session:
        row = await session.scalar(select(Contact))
        assert row is not None and row.next_at >= NOW + timedelta(days=5)


async def test_do_not_call_me_goes_on_the_centers_list_at_once(sessions: store.Sessions) -> None:
    await fill(sessions, REMINDERS, 2)
    first, second = await claim(sessions, REMINDERS, "e", 2)
    assert first.attempt is not None
    promo = CAMPAIGNS.by_id["bianchi-promo"]
    form = read_outcome(promo, {"attempt": str(first.attempt.id), "outcome": "do-not-call"}, NOW)
    assert form.ok
    # an outcome is for the campaign of the call
    assert await results.save_outcome(sessions, promo, form, "op0", NOW) == results.NOT_FOUND
    form = read_outcome(REMINDERS, {"attempt": str(first.attempt.id), "outcome": "refuses"}, NOW)
    assert await results.save_outcome(sessions, REMINDERS, form, "op1", NOW) == results.NOT_YOURS
    assert await results.save_outcome(sessions, REMINDERS, form, "op0", NOW) is None
    await lists.add_do_not_call(sessions, "*", [first.contact.number], "asked", "test", NOW)
    async with sessions() as session:
        rows = list(await session.scalars(select(DoNotCall)))
    assert [(r.scope, r.number) for r in rows] == [("*", first.contact.number)]


async def test_an_appointment_is_booked_once_in_a_salespersons_calendar(
    sessions: store.Sessions,
) -> None:
    header = ["numero", "azienda", "referente", "indirizzo"]
    rows = [["0612345001", "A", "Anna", "Via 1"], ["0612345002", "B", "Bea", "Via 2"]]
    await lists.import_contacts(sessions, VALUATIONS, parse(VALUATIONS, header, rows), "l", NOW)
    await lists.apply_register(sessions, VALUATIONS, set(), date(2026, 12, 2), NOW)
    previews = await claim(sessions, VALUATIONS, "e", 2)
    assert [p.attempt for p in previews] == [None, None]  # a preview places no call yet
    attempts = [
        await store.start_preview_call(
            sessions,
            VALUATIONS,
            p.contact.id,
            engine="e",
            operator=f"op{n}",
            now=NOW,
            rules=dialcheck.Rules(DialPolicy()),
        )  # fmt: skip
        for n, p in enumerate(previews)
    ]
    giulia = VALUATIONS.salespeople["giulia"]
    [slot, *_] = free_slots(giulia, VALUATIONS, NOW, [])
    assert slot > NOW
    key = slot_key("giulia", slot, VALUATIONS.zone)
    for n, attempt in enumerate(attempts):
        assert isinstance(attempt, store.AttemptRecord)
        data = {"attempt": str(attempt.id), "outcome": "appointment", "slot": key,
                "address": f"Via {n}"}  # fmt: skip
        form = read_outcome(VALUATIONS, data, NOW)
        assert form.ok, form.errors
        outcome = await results.save_outcome(sessions, VALUATIONS, form, f"op{n}", NOW)
        assert outcome == (None if n == 0 else results.TAKEN)
    async with sessions() as session:
        booked = list(await session.scalars(select(Appointment)))
    assert [(b.salesperson, b.starts_at) for b in booked] == [("giulia", slot)]
    assert slot not in free_slots(giulia, VALUATIONS, NOW, [slot])
    off = read_outcome(
        VALUATIONS,
        {
            "attempt": "1",
            "outcome": "appointment",
            "slot": "giulia|2026-12-06T10:00",
            "address": "x",
        },
        NOW,
    )
    assert "slot" in off.errors  # a Sunday: not in Giulia's calendar


def test_the_outcome_form_checks_each_kind() -> None:
    data = {"attempt": "7", "outcome": "promise", "promise_amount": "120,50",
            "promise_date": "2026-12-10"}  # fmt: skip
    form = read_outcome(REMINDERS, data, NOW)
    assert form.ok and form.promise_amount == Decimal("120.50")
    bad = read_outcome(REMINDERS, {**data, "promise_amount": "-3", "promise_date": "2020-01-01"},
                       NOW, "en")  # fmt: skip
    assert set(bad.errors) == {"promise_amount", "promise_date"}
    assert read_outcome(REMINDERS, {"attempt": "7", "outcome": "sale"}, NOW).errors["outcome"]
    call_back = read_outcome(REMINDERS, {"attempt": "7", "outcome": "callback",
                                         "callback_at": "2026-12-03T10:30"}, NOW)  # fmt: skip
    assert call_back.ok and call_back.callback_at == datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    promo = CAMPAIGNS.by_id["bianchi-promo"]
    choice = read_outcome(promo, {"attempt": "7", "outcome": "interested",
                                  "field_interest": "tasse"}, NOW, "it")  # fmt: skip
    assert choice.errors == {"field_interest": "Which service: uno tra privacy, contratti, lavoro."}
