"""The client's area shows its own campaigns' progress, and only its own."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from ivr.campaigns import importer, lists, results, store
from ivr.campaigns.area import client_campaigns, render_client_campaigns
from ivr.campaigns.load import load_campaigns
from ivr.campaigns.outcomes import read_outcome
from ivr.dialpolicy import DialPolicy
from ivr.records import db
from ivr.routing import load_rules

RULES = Path(__file__).resolve().parents[2] / "routing_rules"
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


async def test_a_client_sees_its_own_campaigns_only(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}"
    await db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    campaigns = load_campaigns(RULES, load_rules(RULES))
    mine, theirs = campaigns.by_id["rossi-solleciti"], campaigns.by_id["bianchi-promo"]
    try:
        header = ["numero", "debitore", "importo", "scadenza", "fattura", "nome"]
        rows = [["0612345678", "Mario", "1.500,00", "2026-10-01", "F1", "Mario"],
                ["0612345679", "Anna", "20", "2026-10-01", "F2", "Anna"]]  # fmt: skip
        for campaign in (mine, theirs):
            parsed = importer.parse_rows(campaign.kind, header, enumerate(rows, start=2))
            await lists.import_contacts(sessions, campaign, parsed, "l.csv", NOW)
        [claimed] = await store.claim(sessions, mine, engine="e", now=NOW, operators=["op1"],
                                      policy=DialPolicy(), register_max_days=15)  # fmt: skip
        assert claimed.attempt is not None
        data = {"attempt": str(claimed.attempt.id), "outcome": "promise",
                "promise_amount": "1.500", "promise_date": "2026-12-20"}  # fmt: skip
        form = read_outcome(mine, data, NOW)
        assert await results.save_outcome(sessions, mine, form, "op1", NOW) is None

        got = await client_campaigns(sessions, campaigns, "rossi-idraulica", NOW)
        assert [p.campaign_id for p in got] == ["rossi-solleciti"]
        assert got[0].promised == Decimal("1500.00") and got[0].outcomes == {"promise": 1}
        html = render_client_campaigns(got, "it")
        assert "Solleciti fatture scadute" in html and "Consulenza privacy" not in html
        assert "1.500,00\xa0€" in html and "Pagamenti promessi" in html
        assert "0 contatti lavorati su 2" in html
        assert await client_campaigns(sessions, campaigns, "nobody", NOW) == []
    finally:
        await engine.dispose()
