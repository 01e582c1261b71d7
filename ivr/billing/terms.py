"""A campaign's contract terms: its `billing:` section, read and checked like the rest of the
file (every problem as FILE:LINE:COL), and the Terms the statements are priced with.

    billing:
      counts: [appointment]      # what a result is (default: the kind's)
      mode: graduated            # or volume
      bands_by: results          # or amount (recovered, with a percentage)
      bands:
        - {up_to: "10", price: "40.00"}
        - {up_to: "25", price: "45.00"}
        - {price: "50.00"}       # the last band is open
      contest_days: 30
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ivr.billing.bands import BY_AMOUNT, BY_RESULTS, GRADUATED, Band, Scale
from ivr.campaigns.terms_spec import BillingSpec
from ivr.routing.source import Where

APPOINTMENT, PAID, SALE, INTERESTED = "appointment", "paid", "sale", "interested"
# What may count as a result in a campaign of each kind, and what does by default.
ALLOWED = {
    "appointment": (APPOINTMENT,),
    "reminder": (PAID,),
    "promotion": (SALE, INTERESTED),
}
DEFAULT = {"appointment": (APPOINTMENT,), "reminder": (PAID,), "promotion": (SALE,)}


@dataclass(frozen=True)
class Terms:
    counts: tuple[str, ...]
    scale: Scale
    contest_days: int = 30
    verify: bool = True

    @property
    def by_amount(self) -> bool:
        return self.scale.by == BY_AMOUNT

    def describe(self) -> list[tuple[int, Decimal | None, Decimal | None, Decimal | None]]:
        """Each band as (number from 1, up to, price, percent)."""
        return [(i + 1, b.up_to, b.price, b.percent) for i, b in enumerate(self.scale.bands)]


def _decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def build_terms(spec: BillingSpec, kind: str, error: Callable[[Where, str], None]) -> Terms | None:
    """The terms of a campaign of this kind; every problem goes to error(where, message)."""
    ok = True

    def fail(where: Where, message: str) -> None:
        nonlocal ok
        ok = False
        error(where, message)

    counts: tuple[str, ...] = tuple(spec.counts or DEFAULT.get(kind) or ())
    for i, counted in enumerate(counts):
        if counted not in ALLOWED.get(kind, ()):
            fail(
                spec.where(f"counts[{i}]", "counts"),
                f"the results of {kind} campaigns are {', '.join(ALLOWED.get(kind, ()))},"
                f" not {counted!r}",
            )
    if not spec.bands:
        fail(spec.where("bands"), "give at least one band (one band: a single price)")
        return None
    bands: list[Band] = []
    previous: Decimal | None = None
    per_result = spec.bands[0].price is not None
    for i, band in enumerate(spec.bands):
        where = spec.where(f"bands[{i}]", "bands")
        up_to, price, percent = _decimal(band.up_to), _decimal(band.price), _decimal(band.percent)
        if (price is None) == (percent is None):
            fail(where, "a band has a price or a percent (one of the two)")
        elif (price is not None) != per_result:
            fail(where, "every band is priced the same way: all a price, or all a percent")
        if percent is not None and not Decimal(0) < percent <= 100:
            fail(band.where("percent"), "a percent is more than 0 and at most 100")
        last = i == len(spec.bands) - 1
        if last and up_to is not None:
            fail(band.where("up_to"), "the last band has no up_to: it takes everything beyond")
        if not last and up_to is None:
            fail(where, "every band but the last says up_to")
        if up_to is not None:
            if up_to <= 0 or (previous is not None and up_to <= previous):
                fail(band.where("up_to"), "up_to: more than 0, and more than the band before")
            if spec.bands_by == BY_RESULTS and up_to != up_to.to_integral_value():
                fail(band.where("up_to"), "bands by results end at a whole number of results")
            previous = up_to
        bands.append(Band(up_to, price, percent))
    if not per_result and PAID not in counts:
        fail(spec.where("bands"), "a percent is of the amount recovered: counts must be paid")
    if spec.bands_by == BY_AMOUNT and per_result:
        fail(spec.where("bands_by"), "bands by amount price a percent of it, not a price")
    if spec.bands_by == BY_AMOUNT and tuple(counts) != (PAID,):
        fail(spec.where("bands_by"), "bands by amount count payments only (counts: [paid])")
    if spec.contest_days < 0:
        fail(spec.where("contest_days"), "contest_days: 0 or more")
    if not ok:
        return None
    scale = Scale(tuple(bands), spec.mode or GRADUATED, spec.bands_by)
    return Terms(tuple(counts), scale, spec.contest_days, spec.verify and kind == "appointment")
