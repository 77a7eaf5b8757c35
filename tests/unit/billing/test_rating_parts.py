"""What a live posting was for (``ChargePart``): per day, kind, TOU period and tier, adding up
to the posting exactly, agreeing with a quote of the same usage line by line, and the rounded
amount shared between the parts without a minor unit lost or made up (hypothesis)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.billing.rating import ChargePart, Posting, Rater, apportion, quote
from app.billing.tariff import Tariff, parse_tariff
from tests.unit.billing.test_rating_properties import HEAD, TOU, readings, tariffs

D = Decimal


def post_all(tariff: Tariff, usage: list[tuple[datetime, int, Decimal]]) -> list[Posting]:
    rater = Rater(tariff)
    out: list[Posting] = []
    for start, minutes, rate in usage:
        out += rater.post(start, start + timedelta(minutes=minutes), rate * minutes)
    return out


@given(tariffs(), readings())
def test_the_parts_of_every_posting_add_up_to_it_exactly(
    tariff: Tariff, usage: list[tuple[datetime, int, Decimal]]
) -> None:
    for posting in post_all(tariff, usage):
        parts = posting.parts
        assert sum(part.amount for part in parts) == posting.amount.minor
        assert sum((part.exact for part in parts), D(0)) == posting.exact
        assert sum((part.quantity for part in parts), D(0)) == posting.quantity
        for part in parts:
            assert part.exact == part.quantity * part.unit_price
            if part.kind == "allowance":  # free units are never charged a rounding residue
                assert (part.unit_price, part.exact, part.amount) == (0, 0, 0)
            if tariff.tou is None:
                assert part.period is None
            if tariff.tiers is None:
                assert part.tier is None


@given(tariffs(), readings())
def test_the_parts_summed_per_period_and_tier_are_the_lines_of_a_quote(
    tariff: Tariff, usage: list[tuple[datetime, int, Decimal]]
) -> None:
    sums: dict[tuple[str, str | None, int | None], list[Decimal]] = defaultdict(
        lambda: [D(0), D(0)]
    )
    for posting in post_all(tariff, usage):
        for part in posting.parts:
            cell = sums[(part.kind, part.period, part.tier)]
            cell[0] += part.quantity
            cell[1] += part.exact
    # an all_units step moves earlier units: their old step nets to nothing
    got = {key: tuple(cell) for key, cell in sums.items() if cell[0] or cell[1]}
    rows = [(s, s + timedelta(minutes=m), r * m) for s, m, r in usage]
    lines = quote(tariff, rows).lines
    assert got == {
        (line.kind, line.period, line.tier): (line.quantity, line.exact_amount)
        for line in lines
        if line.kind != "fee"
    }


@given(tariffs(), readings())
def test_a_days_parts_hold_the_units_used_that_day(
    tariff: Tariff, usage: list[tuple[datetime, int, Decimal]]
) -> None:
    per_day: dict[object, Decimal] = defaultdict(Decimal)
    for posting in post_all(tariff, usage):
        for part in posting.parts:
            per_day[part.day] += part.quantity
    by_time = quote(tariff, [(s, s + timedelta(minutes=m), r * m) for s, m, r in usage])
    assert sum(per_day.values(), D(0)) == sum(
        (line.quantity for line in by_time.lines if line.kind != "fee"), D(0)
    )
    first = min(s for s, _m, _r in usage).date()
    last = max(s + timedelta(minutes=m) for s, m, _r in usage).date()
    assert all(first <= day <= last for day in per_day)  # type: ignore[operator]


ALL_UNITS = (
    HEAD.format(date="2026-09-01")
    + 'price = "0.5000"\n[tiers]\ncycle = "month"\nmode = "all_units"\nbasis = "surcharge"\n'
    'steps = [{ upto = "10", value = "0.0000" }, { value = "0.1000" }]\n'
)


def test_reaching_an_all_units_step_moves_the_cycles_earlier_units_to_it() -> None:
    rater = Rater(parse_tariff(ALL_UNITS))
    start = datetime(2026, 10, 5, 12)
    (first,) = rater.post(start, start + timedelta(hours=1), D(8))
    assert [(p.tier, p.quantity, p.unit_price) for p in first.parts] == [(1, 8, D("0.5"))]
    (second,) = rater.post(start + timedelta(hours=1), start + timedelta(hours=2), D(4))
    assert [(p.tier, p.quantity, p.unit_price, p.amount) for p in second.parts] == [
        (1, -8, D("0.5"), -400),  # the 8 units priced at step 1 before...
        (2, 12, D("0.6"), 720),  # ...and the cycle's 12 at step 2 now
    ]
    assert second.amount.minor == 720 - 400


def test_a_posting_across_midnight_and_periods_has_a_part_per_day_and_period() -> None:
    rater = Rater(parse_tariff(HEAD.format(date="2026-09-01") + TOU))
    start = datetime(2026, 10, 6, 21)  # a Tuesday: peak to 22:00, then valley
    (posting,) = rater.post(start, start + timedelta(hours=4), D(4))
    found = [(p.day.isoformat(), p.period, p.quantity, p.amount) for p in posting.parts]
    assert found == [
        ("2026-10-06", "peak", 1, 88),
        ("2026-10-06", "valley", 2, 44),
        ("2026-10-07", "valley", 1, 22),
    ]
    assert isinstance(posting.parts[0], ChargePart)


@given(
    st.lists(st.decimals(min_value=D(-50), max_value=D(50), places=6, allow_nan=False), max_size=8),
    st.integers(-3, 3),
)
def test_apportion_shares_exactly_the_amount_and_stays_near_each_exact(
    exacts: list[Decimal], nudge: int
) -> None:
    if not exacts:
        assert apportion(0, [], "CNY") == []
        return
    exact_total = sum(exacts, D(0))
    amount = int((exact_total * 100).to_integral_value()) + nudge
    shares = apportion(amount, exacts, "CNY")
    assert sum(shares) == amount
    worst = max(abs(share - exact * 100) for share, exact in zip(shares, exacts, strict=True))
    assert worst <= D("0.5") + abs(nudge) + 1


def test_apportion_gives_free_parts_nothing_and_refuses_money_without_parts() -> None:
    assert apportion(1, [D("0"), D("0.004"), D("0.002")], "CNY") == [0, 1, 0]
    assert apportion(0, [D("0.006"), D("0.001")], "CNY") == [0, 0]  # 1 too many: off the first
    with pytest.raises(ValueError, match="no parts"):
        apportion(3, [], "CNY")
