"""Price bands (scaglioni): what a month's results earn. Pure arithmetic on Decimal.

A scale is a list of bands, each up to a limit (the last one open), priced per result or as a
percentage of the amount recovered. Bands are counted by the number of results or by the
amount, per calendar month, in one of two modes:

- graduated: each band its own price, like income tax. The 11th result of a scale "up to 10
  at 40, then 45" earns 45, the first ten 40 each; by amount, the part of the amount within
  each band earns that band's percentage.
- volume: every result at the price of the band the month reached. The same 11 results earn
  45 each: the total jumps at each band's edge (a cliff), exactly there and nowhere else.

A band is reached by going past the limit of the one before: "up to 10" takes results 1 to
10; the 11th reaches the next band. By amount, 10,000.00 is still within "up to 10,000" and
10,000.01 is past it.

Rounding, written down once: amounts are exact Decimals until a statement line is made, and
a line is in cents, rounded half up (ROUND_HALF_UP). Line n is the month's exact earnings up
to and including result n, rounded, minus the same up to result n-1, rounded. So the lines
add up to the month's exact total rounded once (never a cent more or less than it), each
line is within a cent of its own exact value, and adding a result or raising an amount never
lowers the total. With a price per result in whole cents every line is that price exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

GRADUATED, VOLUME = "graduated", "volume"
MODES = (GRADUATED, VOLUME)
BY_RESULTS, BY_AMOUNT = "results", "amount"
CENT = Decimal("0.01")
ONE = Decimal(1)
ZERO = Decimal(0)
HUNDRED = Decimal(100)
# Exact intermediate arithmetic: far more digits than any amount of money has.
EXACT = Context(prec=60)


def cents(value: Decimal) -> Decimal:
    """value in cents, rounded half up: the rounding rule of every statement line."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Band:
    up_to: Decimal | None  # the last result (or euro) of the band; None: open, the last band
    price: Decimal | None = None  # per result
    percent: Decimal | None = None  # of the amount recovered

    def earns(self, amount: Decimal | None) -> Decimal:
        """What one result earns at this band's price (exactly)."""
        if self.price is not None:
            return self.price
        assert self.percent is not None and amount is not None
        with localcontext(EXACT):
            return amount * self.percent / HUNDRED


@dataclass(frozen=True)
class Scale:
    bands: tuple[Band, ...]
    mode: str = GRADUATED
    by: str = BY_RESULTS

    @property
    def per_result(self) -> bool:
        return self.bands[0].price is not None

    @property
    def unit(self) -> Decimal:
        """The smallest step of the count: one result, or one cent."""
        return ONE if self.by == BY_RESULTS else CENT

    def band_at(self, position: Decimal) -> int:
        """The band (0-based) that holds the position-th result (or euro): 0 for nothing."""
        for index, band in enumerate(self.bands):
            if band.up_to is None or position <= band.up_to:
                return index
        return len(self.bands) - 1

    def lower(self, index: int) -> Decimal:
        return ZERO if index == 0 else self.bands[index - 1].up_to or ZERO


@dataclass(frozen=True)
class Priced:
    """A month's results priced: one line per result, in the order given."""

    lines: tuple[Decimal, ...]  # in cents
    bands: tuple[int, ...]  # the band (0-based) each result was priced in
    exact: Decimal  # the month's earnings before rounding
    total: Decimal  # the lines' sum: exact rounded once
    measure: Decimal  # what the bands count: results, or the amount
    reached: int  # the band (0-based) the month reached
    to_next: Decimal | None  # results (or euro) still needed to reach the next band

    @property
    def band(self) -> int:
        """The band reached, as people count: from 1."""
        return self.reached + 1


def price(scale: Scale, amounts: Sequence[Decimal | None]) -> Priced:
    """Price a month's results in the order they came. amounts: each result's recovered
    amount (None where there is none: appointments, sales priced per result)."""
    if not scale.per_result and any(a is None for a in amounts):
        raise ValueError("a percentage needs every result's amount")
    with localcontext(EXACT):
        if scale.by == BY_RESULTS:
            steps = [ONE] * len(amounts)
        else:
            if any(a is None for a in amounts):
                raise ValueError("bands by amount need every result's amount")
            steps = [a for a in amounts if a is not None]
        measure = sum(steps, ZERO)
        reached = scale.band_at(measure)
        exact_lines: list[Decimal] = []
        bands: list[int] = []
        position = ZERO
        for amount, step in zip(amounts, steps, strict=True):
            end = position + step
            if scale.mode == VOLUME:
                exact_lines.append(scale.bands[reached].earns(amount))
                bands.append(reached)
            elif scale.by == BY_RESULTS:
                index = scale.band_at(end)
                exact_lines.append(scale.bands[index].earns(amount))
                bands.append(index)
            else:
                exact_lines.append(_across(scale, position, end))
                bands.append(scale.band_at(end))
            position = end
        lines, running, billed = [], ZERO, cents(ZERO)
        for value in exact_lines:
            running += value
            line = cents(running) - billed
            lines.append(line)
            billed += line
        to_next = None
        if reached + 1 < len(scale.bands):
            limit = scale.bands[reached].up_to
            assert limit is not None
            to_next = limit - measure + scale.unit
    return Priced(tuple(lines), tuple(bands), running, billed, measure, reached, to_next)


def _across(scale: Scale, start: Decimal, end: Decimal) -> Decimal:
    """Graduated by amount: the part of (start, end] within each band at its percentage."""
    earned = ZERO
    for index, band in enumerate(scale.bands):
        low = scale.lower(index)
        high = band.up_to
        top = end if high is None else min(end, high)
        part = top - max(start, low)
        if part > 0:
            assert band.percent is not None
            earned += part * band.percent / HUNDRED
        if high is None or high >= end:
            break
    return earned
