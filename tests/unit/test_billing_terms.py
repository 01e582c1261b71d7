"""A campaign's `billing:` section: read like the rest of the file, every problem named by
file, line and column; the terms it makes; the verification campaign made for it."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from ivr.billing.bands import BY_AMOUNT, VOLUME
from ivr.campaigns.load import load_campaigns
from ivr.routing import load_rules
from ivr.routing.source import RulesError

RULES = Path(__file__).resolve().parents[1] / "billing" / "rules"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    return target


def load(folder: Path) -> dict[str, object]:
    return dict(load_campaigns(folder, load_rules(folder)).by_id)


def test_the_terms_of_each_kind(folder: Path) -> None:
    found = load(folder)
    visits, debts, offers = found["visits"], found["debts"], found["offers"]
    assert visits.billing.counts == ("appointment",) and visits.billing.contest_days == 10  # type: ignore[attr-defined]
    assert [b.price for b in visits.billing.scale.bands] == [  # type: ignore[attr-defined]
        Decimal("50.00"), Decimal("70.00"), Decimal("90.00")
    ]  # fmt: skip
    assert debts.billing.scale.by == BY_AMOUNT and not debts.billing.verify  # type: ignore[attr-defined]
    assert offers.billing.scale.mode == VOLUME and offers.billing.counts == ("sale",)  # type: ignore[attr-defined]
    checking = found["visits-verify"]
    assert checking.verifies == "visits" and checking.recording and checking.billing is None  # type: ignore[attr-defined]
    assert "debts-verify" not in found and "offers-verify" not in found


BROKEN = """\
name: Rotto
client: acme
kind: appointment
groups: [desk]
caller_id: "0611000099"
salespeople:
  giulia: {name: Giulia, hours: {daily: ["09:00-18:00"]}}
billing:
  counts: [sale]
  bands_by: amount
  bands:
    - {up_to: "10", price: "40.00", percent: "5"}
    - {up_to: "5", price: "45.00"}
    - {up_to: "30", price: "50,00"}
  contest_days: -1
"""


def test_every_problem_is_named_by_file_line_and_column(folder: Path) -> None:
    (folder / "campaigns" / "broken.yaml").write_text(BROKEN)
    with pytest.raises(RulesError) as caught:
        load(folder)
    where = str(folder / "campaigns" / "broken.yaml")
    got = {(p.file, p.line, p.column, p.message) for p in caught.value.problems}
    assert got == {
        (where, 14, 28, "price '50,00': euro such as 45.00"),
    }  # the value's own pattern first: the rest is checked once it is readable
    (folder / "campaigns" / "broken.yaml").write_text(BROKEN.replace("50,00", "50.00"))
    with pytest.raises(RulesError) as caught:
        load(folder)
    messages = sorted((p.line, p.column, p.message) for p in caught.value.problems)
    assert messages == [
        (9, 12, "the results of appointment campaigns are appointment, not 'sale'"),
        (10, 13, "bands by amount count payments only (counts: [paid])"),
        (10, 13, "bands by amount price a percent of it, not a price"),
        (12, 7, "a band has a price or a percent (one of the two)"),
        (13, 15, "up_to: more than 0, and more than the band before"),
        (14, 15, "the last band has no up_to: it takes everything beyond"),
        (15, 17, "contest_days: 0 or more"),
    ]


def test_a_campaign_may_not_take_the_name_of_a_verification_campaign(folder: Path) -> None:
    text = (folder / "campaigns" / "offers.yaml").read_text()
    (folder / "campaigns" / "visits-verify.yaml").write_text(
        text.replace("0611000093", "0611000098")
    )
    with pytest.raises(RulesError, match="is the one of 'visits'.s verification calls"):
        load(folder)
