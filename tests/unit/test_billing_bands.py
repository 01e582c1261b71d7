"""The band arithmetic: worked examples written by hand, then properties that hold for any
scale (hypothesis): graduated totals never decrease as results grow, volume mode's cliffs are
exactly at the band edges, both modes agree within the first band, amounts to the cent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.billing.bands import (
    BY_AMOUNT,
    BY_RESULTS,
    CENT,
    GRADUATED,
    VOLUME,
    Band,
    Scale,
    cents,
    price,
)

D = Decimal


def per_result(*bands: tuple[int | None, str], mode: str = GRADUATED) -> Scale:
    return Scale(tuple(Band(None if u is None else D(u), price=D(p)) for u, p in bands), mode)


def percent(*bands: tuple[str | None, str], mode: str = GRADUATED, by: str = BY_AMOUNT) -> Scale:
    return Scale(tuple(Band(None if u is None else D(u), percent=D(p)) for u, p in bands), mode, by)


APPOINTMENTS = ((10, "40.00"), (25, "45.00"), (None, "50.00"))
RECOVERED = (("10000", "8"), ("50000", "10"), (None, "12"))

# Worked by hand: scale, amounts, total, each line, band reached (from 1), still to go.
WORKED = [
    # Appointments: up to 10 at 40, 11 to 25 at 45, then 50.
    ("graduated, none", per_result(*APPOINTMENTS), [None] * 0, "0.00", [], 1, "11"),
    ("graduated, 10", per_result(*APPOINTMENTS), [None] * 10, "400.00", ["40.00"] * 10, 1, "1"),
    ("graduated, 11: only the 11th at 45", per_result(*APPOINTMENTS), [None] * 11, "445.00",
     ["40.00"] * 10 + ["45.00"], 2, "15"),
    ("graduated, 30: 10x40 + 15x45 + 5x50", per_result(*APPOINTMENTS), [None] * 30, "1325.00",
     ["40.00"] * 10 + ["45.00"] * 15 + ["50.00"] * 5, 3, None),
    ("volume, 10", per_result(*APPOINTMENTS, mode=VOLUME), [None] * 10, "400.00",
     ["40.00"] * 10, 1, "1"),
    ("volume, 11: every one at 45", per_result(*APPOINTMENTS, mode=VOLUME), [None] * 11,
     "495.00", ["45.00"] * 11, 2, "15"),
    ("volume, 25", per_result(*APPOINTMENTS, mode=VOLUME), [None] * 25, "1125.00",
     ["45.00"] * 25, 2, "1"),
    ("volume, 26: every one at 50", per_result(*APPOINTMENTS, mode=VOLUME), [None] * 26,
     "1300.00", ["50.00"] * 26, 3, None),
    # Reminders: 8 % of the first 10,000 recovered in the month, 10 % up to 50,000, then 12 %.
    ("graduated by amount, 6,000 twice: the second straddles the edge",
     percent(*RECOVERED), [D("6000"), D("6000")], "1000.00", ["480.00", "520.00"], 2,
     "38000.01"),
    ("volume by amount, 12,000: all at 10 %", percent(*RECOVERED, mode=VOLUME),
     [D("6000"), D("6000")], "1200.00", ["600.00", "600.00"], 2, "38000.01"),
    ("by amount, exactly 10,000 is still band 1", percent(*RECOVERED, mode=VOLUME),
     [D("10000")], "800.00", ["800.00"], 1, "0.01"),
    ("8 % of 123.45 is 9.876: 9.88", percent(*RECOVERED), [D("123.45")], "9.88", ["9.88"], 1,
     "9876.56"),
    # The rounding rule: 5 % of 0.10 is 0.005 each; lines are the running total rounded.
    ("half a cent three times", percent((None, "5")), [D("0.10")] * 3, "0.02",
     ["0.01", "0.00", "0.01"], 1, None),
    # Payments counted by number: 10 % for the first 5 payments, 15 % from the 6th.
    ("graduated by results, a percentage", percent(("5", "10"), (None, "15"), by=BY_RESULTS),
     [D("100")] * 6, "65.00", ["10.00"] * 5 + ["15.00"], 2, None),
    ("volume by results, a percentage",
     percent(("5", "10"), (None, "15"), by=BY_RESULTS, mode=VOLUME), [D("100")] * 6, "90.00",
     ["15.00"] * 6, 2, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("scale", "amounts", "total", "lines", "band", "to_next"),
    [case[1:] for case in WORKED],
    ids=[case[0] for case in WORKED],
)
def test_worked_examples(
    scale: Scale,
    amounts: list[Decimal | None],
    total: str,
    lines: list[str],
    band: int,
    to_next: str | None,
) -> None:
    priced = price(scale, amounts)
    assert priced.total == D(total) and str(priced.total) == total
    assert [str(line) for line in priced.lines] == lines
    assert priced.band == band
    assert priced.to_next == (None if to_next is None else D(to_next))


def test_a_percentage_needs_the_amounts() -> None:
    with pytest.raises(ValueError):
        price(percent(*RECOVERED), [None])


# -- properties -----------------------------------------------------------------------------

money = st.decimals(min_value=D("0.00"), max_value=D("5000.00"), places=2)
rates = st.decimals(min_value=D("0.01"), max_value=D("100"), places=2)


@st.composite
def scales(draw: st.DrawFn, basis: str | None = None, by: str | None = None) -> Scale:
    mode = draw(st.sampled_from([GRADUATED, VOLUME]))
    basis = basis or draw(st.sampled_from(["price", "percent"]))
    by = by or (BY_RESULTS if basis == "price" else draw(st.sampled_from([BY_RESULTS, BY_AMOUNT])))
    count = draw(st.integers(1, 4))
    if by == BY_RESULTS:
        limits = sorted(draw(st.sets(st.integers(1, 30), min_size=count - 1, max_size=count - 1)))
        edges: list[Decimal | None] = [D(x) for x in limits]
    else:
        found = draw(st.sets(money.filter(lambda x: x > 0), min_size=count - 1,
                             max_size=count - 1))  # fmt: skip
        edges = sorted(found)
    edges.append(None)
    if basis == "price":
        bands = tuple(Band(e, price=draw(money)) for e in edges)
    else:
        bands = tuple(Band(e, percent=draw(rates)) for e in edges)
    return Scale(bands, mode, by)


def amounts_for(scale: Scale) -> st.SearchStrategy[list[Decimal | None]]:
    item = st.none() if scale.per_result else money
    return st.lists(item, max_size=40)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_graduated_totals_never_decrease_as_results_grow(data: st.DataObject) -> None:
    scale = data.draw(scales())
    scale = Scale(scale.bands, GRADUATED, scale.by)
    amounts = data.draw(amounts_for(scale))
    more = data.draw(st.none() if scale.per_result else money)
    assert price(scale, [*amounts, more]).total >= price(scale, amounts).total
    if not scale.per_result and amounts:  # a larger amount never earns less either
        i = data.draw(st.integers(0, len(amounts) - 1))
        raised = list(amounts)
        raised[i] = (raised[i] or D(0)) + data.draw(money)
        assert price(scale, raised).total >= price(scale, amounts).total


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_volume_cliffs_are_exactly_at_the_band_edges(data: st.DataObject) -> None:
    scale = data.draw(scales(basis="price"))
    scale = Scale(scale.bands, VOLUME, BY_RESULTS)
    edges = {int(b.up_to) for b in scale.bands if b.up_to is not None}
    for n in range(1, 35):
        now, after = price(scale, [None] * n), price(scale, [None] * (n + 1))
        unit_now, unit_after = now.lines[0], after.lines[0]
        if n in edges:  # the (n+1)th result reaches the next band: every result moves
            assert after.reached == now.reached + 1
            assert after.total == (n + 1) * scale.bands[after.reached].price  # type: ignore[operator]
        else:
            assert after.reached == now.reached and unit_after == unit_now
            assert after.total - now.total == unit_now


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_volume_by_amount_changes_rate_only_past_an_edge(data: st.DataObject) -> None:
    scale = data.draw(scales(basis="percent", by=BY_AMOUNT))
    scale = Scale(scale.bands, VOLUME, BY_AMOUNT)
    for band in scale.bands[:-1]:
        edge = band.up_to
        assert edge is not None
        at, past = price(scale, [edge]), price(scale, [edge + CENT])
        assert past.reached == at.reached + 1
        assert at.lines == (cents(edge * scale.bands[at.reached].percent / 100),)  # type: ignore[operator]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_both_modes_agree_within_the_first_band(data: st.DataObject) -> None:
    scale = data.draw(scales())
    amounts = data.draw(amounts_for(scale))
    graduated = price(Scale(scale.bands, GRADUATED, scale.by), amounts)
    volume = price(Scale(scale.bands, VOLUME, scale.by), amounts)
    assert graduated.measure == volume.measure and graduated.reached == volume.reached
    if graduated.reached == 0:
        assert graduated.lines == volume.lines and graduated.total == volume.total
    rising = all(
        (a.price or a.percent or 0) <= (b.price or b.percent or 0)
        for a, b in zip(scale.bands, scale.bands[1:], strict=False)
    )
    if rising:  # prices that rise with the bands: volume pays at least as much
        assert volume.exact >= graduated.exact


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_amounts_are_to_the_cent_and_add_up(data: st.DataObject) -> None:
    scale = data.draw(scales())
    amounts = data.draw(amounts_for(scale))
    priced = price(scale, amounts)
    assert len(priced.lines) == len(amounts)
    assert all(line == line.quantize(CENT) and line.as_tuple().exponent == -2
               for line in priced.lines)  # fmt: skip
    assert sum(priced.lines, D("0.00")) == priced.total
    assert priced.total == cents(priced.exact)
    assert abs(priced.total - priced.exact) <= D("0.005")
    if scale.per_result:  # a price in cents: every line is a band's price exactly
        assert all(line == scale.bands[b].price for line, b in zip(priced.lines, priced.bands,
                                                                   strict=True))  # fmt: skip
