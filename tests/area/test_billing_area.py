"""The client's campaigns and billing in its area, over HTTP: its campaigns' progress, the
month's statement with each result's evidence and the distance to the next band (Italian and
English, times in the client's zone), the CSV and the printable page, a contest filed, and the
payments the client confirms by hand or with a file."""

from __future__ import annotations

import csv
import io
import re

from aiohttp import FormData
from area_world import NOW, PASSWORD, World, csrf, post_form
from sqlalchemy import select

from ivr.area import users
from ivr.billing.models import Contest, Payment, Verification

MONTH = "2026-11"


async def test_the_campaigns_page_shows_the_client_s_own(world: World) -> None:
    client = await world.login("member@acme.example")  # not only admins
    page = await (await client.get("/area/campaigns")).text()
    assert 'data-campaign="acme-visits"' in page and 'data-campaign="acme-debts"' in page
    assert "Sopralluoghi Acme" in page and "Appuntamenti fissati" in page
    assert "acme-visits-verify" not in page  # verification calls show with each result
    nav = re.findall(r'id="nav-([a-z]+)"', page)
    assert "campaigns" in nav and "billing" not in nav  # billing is for admins
    assert (await client.get(f"/area/billing?month={MONTH}", allow_redirects=False)).status == 404
    await client.close()


async def test_the_statement_with_its_evidence_and_the_next_band(world: World) -> None:
    client = await world.login("admin@acme.example")
    page = await (await client.get(f"/area/billing?month={MONTH}")).text()
    rows = re.findall(r'<tr data-result="(A\d+)" data-status="(\w+)" data-price="([\d.]*)"', page)
    a = world.ids["a_appointments"]
    assert rows == [(f"A{a[0]}", "billable", "50.00"), (f"A{a[1]}", "billable", "50.00"),
                    (f"A{a[2]}", "billable", "70.00")]  # fmt: skip
    assert 'data-total="170.00"' in page and "Fascia 2 raggiunta" in page
    assert "Bozza: il mese non è ancora emesso" in page
    assert f'href="/area/billing/results/A{a[0]}"' in page
    december = await (await client.get("/area/billing?month=2026-12")).text()
    assert 'data-status="upcoming"' in december and "non ancora avvenuto" in december

    exported = await client.get(f"/area/billing/statement.csv?month={MONTH}")
    table = list(csv.reader(io.StringIO((await exported.read()).decode("utf-8-sig"))))
    assert table[0][0] == "Mese" and table[-1][3] == "Totale" and table[-1][9] == "170.00"
    printable = await (await client.get(f"/area/billing/statement/print?month={MONTH}")).text()
    assert "@media print" in printable and "Sopralluoghi Acme" in printable

    result = await (await client.get(f"/area/billing/results/A{a[0]}")).text()
    call = world.ids["a_attempts"][0]
    assert f'src="/area/billing/recordings/{call}"' in result
    assert "Richiamare dopo le 18" in result  # the booking call's outcome form
    assert 'id="contest-form"' in result and "Potete contestarlo" not in result  # a draft
    recording = await client.get(f"/area/billing/recordings/{call}")
    assert recording.status == 200 and (await recording.read()).startswith(b"RIFF")
    await client.close()


async def test_the_statement_in_english_with_days_in_the_client_s_zone(world: World) -> None:
    english = await users.add_user(world.services.sessions, "acme", "en@acme.example", PASSWORD,
                                   NOW, role="admin", language="en")  # fmt: skip
    assert english.language == "en"
    client = await world.login("en@acme.example")
    page = await (await client.get(f"/area/billing?month={MONTH}")).text()
    assert "Band 2 reached" in page and "Statement 2026-11" in page
    assert "10/11/2026" in page  # the appointment's day, in the client's zone and locale
    await client.close()


async def test_a_contest_filed_in_the_area_is_verified_first(world: World) -> None:
    woken: list[str] = []
    world.services.wake.on("campaigns", woken.append)
    client = await world.login("admin@acme.example")
    a = world.ids["a_appointments"]
    url = f"/area/billing/results/A{a[1]}"
    bad = await post_form(client, f"{url}/contest", {"reason": "", "note": "x"}, url)
    assert bad.status == 422 and "Scegliere il motivo." in await bad.text()
    sent = await post_form(
        client, f"{url}/contest", {"reason": "did-not-happen", "note": "Nessuno è passato"}, url
    )
    assert sent.status == 303 and sent.headers["Location"] == f"{url}?filed=1"
    assert woken == [""]  # the dialer places its verification call now
    page = await (await client.get(f"{url}?filed=1")).text()
    assert 'id="filed"' in page and 'data-status="open"' in page
    assert "Nessuno è passato" in page and "In attesa della chiamata di verifica." in page
    async with world.services.sessions() as session:
        [contest] = await session.scalars(select(Contest))
        [check] = await session.scalars(select(Verification))
    assert (contest.result_key, contest.filed_by) == (f"A{a[1]}", "admin@acme.example")
    assert check.appointment_id == a[1] and check.contested and not check.sampled
    again = await post_form(client, f"{url}/contest", {"reason": "other"}, "/area/billing")
    assert again.status == 422 and "già contestato" in await again.text()
    statement = await (await client.get(f"/area/billing?month={MONTH}")).text()
    assert "contestato" in statement
    await client.close()


async def test_payments_confirmed_by_hand_and_from_a_file(world: World) -> None:
    client = await world.login("admin@acme.example")
    promise = world.ids["a_promise"]
    page = await (await client.get("/area/billing/payments")).text()
    assert f'data-attempt="{promise}" data-confirmed=""' in page and "Mario Debitore" in page
    url = f"/area/billing/payments/{promise}"
    bad = await post_form(client, url, {"amount": "abc", "paid_on": "2026-11-20"},
                          "/area/billing/payments")  # fmt: skip
    assert bad.status == 422 and "importo pagato (ad esempio 120,50)" in await bad.text()
    future = await post_form(client, url, {"amount": "100", "paid_on": "2026-12-20"},
                             "/area/billing/payments")  # fmt: skip
    assert future.status == 422 and "non può essere nel futuro" in await future.text()
    ok = await post_form(client, url, {"amount": "200,00", "paid_on": "2026-11-20"},
                         "/area/billing/payments")  # fmt: skip
    assert ok.status == 303
    # A file corrects it (250 paid after all), and names an invoice that is not theirs.
    form = FormData()
    form.add_field("csrf", await csrf(client, "/area/billing/payments"))
    form.add_field("file", "fattura;importo;data\nF-2026-9;250,00;21/11/2026\nB-1;9;21/11/2026\n",
                   filename="pagamenti.csv", content_type="text/csv")  # fmt: skip
    sent = await client.post("/area/billing/payments/import", data=form)
    text = await sent.text()
    assert sent.status == 422 and "Pagamenti confermati: 1." in text
    assert "Riga 3, invoice: Nessuna promessa di pagamento corrisponde" in text
    async with world.services.sessions() as session:
        [paid] = await session.scalars(select(Payment))
    assert (paid.amount, paid.paid_on.isoformat(), paid.source) == (
        250,
        "2026-11-21",
        "file pagamenti.csv",
    )
    statement = await (await client.get(f"/area/billing?month={MONTH}")).text()
    assert f'<tr data-result="P{paid.id}" data-status="billable" data-price="25.00"' in statement
    assert 'data-total="195.00"' in statement  # 170 + 10 % of 250
    await client.close()
