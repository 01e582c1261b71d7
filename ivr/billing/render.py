"""A statement as people read it: the printable page (HTML with print CSS), the CSV, the
text `ivr billing statement` prints; in Italian or English, times in the client's zone."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from ivr import tables
from ivr.billing.bands import BY_AMOUNT
from ivr.billing.statement import Adjustment, Section, View
from ivr.i18n import Templates, local_date, money, number, tr, trn

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGES = Templates(TEMPLATES)


def status_label(lang: str, status: str) -> str:
    return {
        "billable": tr(lang, "billed"),
        "upcoming": tr(lang, "not yet held"),
        "not-held": tr(lang, "not held (verification call)"),
        "credited": tr(lang, "credited"),
    }.get(status, status)


def kind_label(lang: str, kind: str) -> str:
    return {
        "appointment": tr(lang, "Appointment"),
        "sale": tr(lang, "Sale"),
        "interested": tr(lang, "Interested contact"),
        "paid": tr(lang, "Payment recovered"),
    }.get(kind, kind)


def reason_label(lang: str, reason: str) -> str:
    code, _, ref = reason.partition(":")
    if code == "credited":
        return tr(lang, "credited after contest no. %(ref)s", ref=ref)
    if code == "not-held":
        return tr(lang, "not held, as a verification call found")
    if code == "late":
        return tr(lang, "became billable after its statement")
    if code == "repriced":
        return tr(lang, "priced again: the month's band or amount changed")
    return tr(lang, "withdrawn")


def contest_label(lang: str, contest: dict[str, Any] | None) -> str:
    if not contest:
        return ""
    status = {
        "open": tr(lang, "contested"),
        "credited": tr(lang, "contest accepted: credited"),
        "rejected": tr(lang, "contest rejected: stays billed"),
    }.get(contest["status"], contest["status"])
    if contest.get("verdict") == "shown-wrong":
        status += ", " + tr(lang, "shown wrong by the verification call")
    if contest.get("questioned") and contest["status"] == "open":
        status += ", " + tr(lang, "questioned")
    return status


def verification_label(lang: str, verification: dict[str, Any] | None) -> str:
    if not verification:
        return ""
    if verification.get("happened") is True:
        return tr(lang, "verified: the visit took place")
    if verification.get("happened") is False:
        return tr(lang, "verified: the visit did not take place")
    if verification.get("status") in ("refused", "unreachable"):
        return tr(lang, "verification call without an answer")
    return tr(lang, "verification call to be made")


def band_text(lang: str, section: Section) -> str:
    """Where the month stands: the band reached and how far the next one is."""
    reached = tr(lang, "Band %(band)s reached", band=section.band)
    if section.to_next is None:
        return reached
    if section.by == BY_AMOUNT:
        more = tr(
            lang,
            "%(amount)s more recovered to reach band %(band)s",
            amount=money(section.to_next, lang),
            band=section.band + 1,
        )
    else:
        n = int(section.to_next)
        if section.kind == "appointment":
            more = trn(
                lang,
                "%(num)s more appointment to reach band %(band)s",
                "%(num)s more appointments to reach band %(band)s",
                n,
                band=section.band + 1,
            )
        else:
            more = trn(
                lang,
                "%(num)s more result to reach band %(band)s",
                "%(num)s more results to reach band %(band)s",
                n,
                band=section.band + 1,
            )
    return f"{reached}: {more}"


def band_rows(lang: str, section: Section) -> list[tuple[int, str, str]]:
    """Each band as (number, what it covers, its price)."""
    out = []
    low: Decimal | None = None
    amount = section.by == BY_AMOUNT
    for n, up_to, unit, percent in section.bands:
        shown = (lambda v: money(v, lang)) if amount else (lambda v: number(v, lang))
        if up_to is None:
            covers = tr(lang, "beyond %(low)s", low=shown(low)) if low is not None else "-"
        elif low is None:
            covers = tr(lang, "up to %(high)s", high=shown(up_to))
        else:
            start = low + (Decimal("0.01") if amount else 1)
            covers = tr(lang, "%(low)s to %(high)s", low=shown(start), high=shown(up_to))
        cost = money(unit, lang) if unit is not None else f"{number(percent or 0, lang)} %"
        out.append((n, covers, cost))
        low = up_to
    return out


def helpers(lang: str) -> dict[str, Any]:
    return {
        "status_label": lambda s: status_label(lang, s),
        "kind_label": lambda k: kind_label(lang, k),
        "reason_label": lambda r: reason_label(lang, r),
        "contest_label": lambda c: contest_label(lang, c),
        "verification_label": lambda v: verification_label(lang, v),
        "band_text": lambda s: band_text(lang, s),
        "band_rows": lambda s: band_rows(lang, s),
    }


def printable(view: View, lang: str) -> str:
    """The statement as a page of its own, made to be printed (or saved as PDF)."""
    return PAGES.render("statement_print.html", lang, view=view, link=None, **helpers(lang))


CENT = Decimal("0.01")


def _amount(value: Decimal | None) -> Decimal | str:
    """An amount as a number (two decimals): a negative one is a number, not a formula."""
    return "" if value is None else Decimal(value).quantize(CENT)


def csv_text(view: View, lang: str) -> str:
    rows: list[tables.Row] = []
    rows.append([
        tr(lang, "Month"), tr(lang, "Campaign"), tr(lang, "Result"), tr(lang, "Kind"),
        tr(lang, "Date"), tr(lang, "About"), tr(lang, "Status"), tr(lang, "Recovered"),
        tr(lang, "Band"), tr(lang, "Amount"), tr(lang, "Contest"), tr(lang, "Verification"),
    ])  # fmt: skip
    for s in view.sections:
        for i in s.items:
            rows.append([
                view.month, s.campaign_id, i.key, kind_label(lang, i.kind),
                local_date(i.at, lang, "short", view.zone), i.label, status_label(lang, i.status),
                _amount(i.recovered), i.band or "", _amount(i.price),
                contest_label(lang, i.contest), verification_label(lang, i.verification),
            ])  # fmt: skip
    for a in view.adjustments:
        rows.append(_adjustment_row(a, lang))
    rows.append([view.month, "", "", tr(lang, "Total"), "", "", "", "", "",
                 _amount(view.total), "", ""])  # fmt: skip
    return tables.csv_text(rows)


def _adjustment_row(a: Adjustment, lang: str) -> list[tables.Cell]:
    kind = tr(lang, "Credit") if a.delta < 0 else tr(lang, "Debit")
    return [a.of_month, a.campaign_id, a.key, kind, "", a.label, reason_label(lang, a.reason),
            "", "", _amount(a.delta), "", ""]  # fmt: skip


def text(view: View, lang: str = "en") -> str:
    """What `ivr billing statement` prints."""
    state = (
        tr(lang, "issued %(when)s by %(who)s", when=view.issued_at.isoformat(timespec="minutes"),
           who=view.issued_by)
        if view.issued_at is not None else tr(lang, "draft: not issued yet")
    )  # fmt: skip
    lines = [f"{view.client_name} ({view.client_id}), {view.month}: {state}"]
    for s in view.sections:
        lines.append(f"  {s.name} [{s.campaign_id}], {s.mode}, bands by {s.by}:")
        for n, covers, cost in band_rows(lang, s):
            mark = "  <- reached" if n == s.band else ""
            lines.append(f"    band {n}: {covers}: {cost}{mark}")
        lines.append(f"    {band_text(lang, s)}")
        for i in s.items:
            price = f"{i.price:>10.2f}" if i.price is not None else " " * 10
            extra = "; ".join(
                x for x in (contest_label(lang, i.contest),
                            verification_label(lang, i.verification)) if x
            )  # fmt: skip
            recovered = f" recovered {i.recovered:.2f}" if i.recovered is not None else ""
            lines.append(
                f"    {i.key:>7} {i.at.date().isoformat()} {price}  {status_label(lang, i.status)}"
                f"{' band ' + str(i.band) if i.band else ''}{recovered}  {i.label}"
                + (f"  [{extra}]" if extra else "")
            )
        lines.append(f"    campaign total {s.total:.2f}")
    for a in view.adjustments:
        lines.append(f"  {a.key} of {a.of_month}: {a.delta:+.2f} ({reason_label(lang, a.reason)})"
                     f"  {a.label}")  # fmt: skip
    c = view.counts
    lines.append(
        f"  results {c.get('results', 0)}, billed {c.get('billed', 0)}, contested"
        f" {c.get('contested', 0)} (open {c.get('open', 0)}), credited {c.get('credited', 0)},"
        f" not held {c.get('not_held', 0)}"
    )
    lines.append(f"  TOTAL EUR {view.total:.2f}")
    return "\n".join(lines) + "\n"
