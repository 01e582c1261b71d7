"""The shape of a campaign file's `billing:` section (paid per result), read with the rest of
the file. Its meaning (what a result is worth, the statements) is the billing feature's: it
turns this into its terms through the campaigns' extension hooks (ivr/campaigns/extensions.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ivr.routing.source import Spec, doc

MONEY = r"^[0-9]{1,9}(\.[0-9]{1,2})?$"
LIMIT = r"^[0-9]{1,9}(\.[0-9]{1,2})?$"
PERCENT = r"^[0-9]{1,3}(\.[0-9]{1,4})?$"
Counted = Literal["appointment", "paid", "sale", "interested"]


@dataclass(frozen=True, kw_only=True)
class BandSpec(Spec):
    up_to: str | None = field(
        default=None,
        metadata=doc(
            "The last result (bands by results) or euro (by amount) of this band; the last"
            " band has none: it takes everything beyond.",
            pattern=LIMIT,
            hint="a number such as 10 or 10000.00",
        ),
    )
    price: str | None = field(
        default=None,
        metadata=doc("Euro per result, such as 45.00.", pattern=MONEY, hint="euro such as 45.00"),
    )
    percent: str | None = field(
        default=None,
        metadata=doc(
            "A percentage of the amount recovered, such as 8 or 7.5.",
            pattern=PERCENT,
            hint="a percentage such as 8 or 7.5",
        ),
    )


@dataclass(frozen=True, kw_only=True)
class BillingSpec(Spec):
    counts: tuple[Counted, ...] | None = field(
        default=None,
        metadata=doc(
            "What a result is: appointment (set, and held once its date has passed), paid (a"
            " promise to pay the client confirmed as paid), sale, interested. Absent: the"
            " kind's (appointment, paid, sale)."
        ),
    )
    mode: Literal["graduated", "volume"] = field(
        default="graduated",
        metadata=doc(
            "graduated: each band its own price, like income tax; volume: every result at the"
            " price of the band the month reached."
        ),
    )
    bands_by: Literal["results", "amount"] = field(
        default="results",
        metadata=doc("Bands count the month's results, or the amount recovered (percentages)."),
    )
    bands: tuple[BandSpec, ...] = field(
        metadata=doc("The price bands, lowest first; one band for a single price.")
    )
    contest_days: int = field(
        default=30,
        metadata=doc("Days after a statement is issued during which the client may contest it."),
    )
    verify: bool = field(
        default=True,
        metadata=doc("Appointments: call a sample of the visited businesses each month."),
    )
