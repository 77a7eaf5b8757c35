"""Rules of rating that must hold for any usage (hypothesis): slicing does not change what a
cycle costs, a tariff change prices each part with its own version, allowance and tiers
interact as DOMAIN.md says, totals are the sum of their lines, and no amount is a float."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from app.billing.money import Money, round_to_minor
from app.billing.rating import Posting, Quote, Rater, quote, quote_versions
from app.billing.tariff import Tariff, parse_tariff

D = Decimal
HEAD = """\
name = "Property"
utility = "electricity"
unit = "kWh"
currency = "CNY"
effective_from = {date}
"""
TOU = """
[tou]
periods = { peak = "0.8800", flat = "0.5500", valley = "0.2200" }
weekday = [["00:00","07:30","valley"], ["07:30","11:00","peak"], ["11:00","18:15","flat"],
           ["18:15","22:00","peak"], ["22:00","24:00","valley"]]
weekend = [["00:00","08:00","valley"], ["08:00","24:00","flat"]]
holiday = [["00:00","24:00","valley"]]
holidays = [2026-10-01, 2026-10-02]
[[tou.season]]
from = "09-25"
to = "09-30"
weekday = [["00:00","12:00","valley"], ["12:00","24:00","peak"]]
"""
TIERS = """
[tiers]
cycle = "{cycle}"
mode = "{mode}"
basis = "{basis}"
steps = [{{ upto = "20", value = "{v1}" }}, {{ upto = "45.5", value = "{v2}" }},
         {{ value = "{v3}" }}]
"""
ALLOWANCE = '\n[allowance]\nquantity = "{quantity}"\ncycle = "{cycle}"\n'

settings.register_profile("billing", deadline=None, max_examples=150)
settings.load_profile("billing")


@st.composite
def tariffs(draw: st.DrawFn) -> Tariff:
    """TOU or single price, with or without tiers (any mode, basis, cycle) and allowance."""
    text = HEAD.format(date="2026-09-01")
    basis = draw(st.sampled_from(["surcharge", "price"]))
    with_tiers = draw(st.booleans())
    if draw(st.booleans()):
        text += TOU
    elif not (with_tiers and basis == "price"):
        text += 'price = "0.5800"\n'
    if with_tiers:
        values = ("0.0000", "0.0500", "0.3000") if basis == "surcharge" else ("0.5", "0.6", "0.9")
        text += TIERS.format(
            cycle=draw(st.sampled_from(["day", "week", "month"])),
            mode=draw(st.sampled_from(["graduated", "all_units"])),
            basis=basis,
            v1=values[0],
            v2=values[1],
            v3=values[2],
        )
    if draw(st.booleans()):
        text += ALLOWANCE.format(
            quantity=draw(st.sampled_from(["0", "3", "12.5"])),
            cycle=draw(st.sampled_from(["day", "week", "month"])),
        )
    return parse_tariff(text)


RATES = st.decimals(min_value=D(0), max_value=D("0.5"), places=3)


@st.composite
def readings(draw: st.DrawFn) -> list[tuple[datetime, int, Decimal]]:
    """Consecutive readings from late September into October: (start, minutes, rate per
    minute), so a reading's quantity is ``rate * minutes``."""
    start = datetime(2026, 9, 29) + timedelta(minutes=15 * draw(st.integers(0, 4 * 24 * 3)))
    out = []
    for _ in range(draw(st.integers(1, 25))):
        minutes = draw(st.integers(1, 24 * 60))
        out.append((start, minutes, draw(RATES)))
        start += timedelta(minutes=minutes + draw(st.sampled_from([0, 0, 0, 7])))
    return out


def cycle_sums(postings: list[Posting]) -> dict[date, tuple[int, Decimal]]:
    sums: dict[date, tuple[int, Decimal]] = defaultdict(lambda: (0, D(0)))
    for posting in postings:
        minor, exact = sums[posting.cycle]
        sums[posting.cycle] = (minor + posting.amount.minor, exact + posting.exact)
    return dict(sums)


@given(tariffs(), readings(), st.data())
def test_postings_of_any_slicing_add_up_to_the_same_cycle_totals(
    tariff: Tariff, usage: list[tuple[datetime, int, Decimal]], data: st.DataObject
) -> None:
    whole, sliced = Rater(tariff), Rater(tariff)
    whole_postings: list[Posting] = []
    sliced_postings: list[Posting] = []
    for start, minutes, rate in usage:
        whole_postings += whole.post(start, start + timedelta(minutes=minutes), rate * minutes)
        cuts = data.draw(st.sets(st.integers(1, minutes - 1), max_size=5)) if minutes > 1 else set()
        edges = [0, *sorted(cuts), minutes]
        for a, b in pairwise(edges):
            begin = start + timedelta(minutes=a)
            sliced_postings += sliced.post(begin, start + timedelta(minutes=b), rate * (b - a))
    whole_sums, sliced_sums = cycle_sums(whole_postings), cycle_sums(sliced_postings)
    assert whole_sums == sliced_sums
    for minor, exact in whole_sums.values():
        assert minor == round_to_minor(exact, "CNY")  # the residue was carried, never lost
    # and the exact charges are what a quote of the same usage computes
    rows = [(s, s + timedelta(minutes=m), r * m) for s, m, r in usage]
    assert sum(exact for _, exact in whole_sums.values()) == quote(tariff, rows).exact_total


@given(
    change=st.integers(1, 80),
    before_hours=st.integers(1, 72),
    after_hours=st.integers(1, 72),
    rate=st.decimals(min_value=D("0.001"), max_value=D(5), places=3),
    prices=st.tuples(*[st.decimals(min_value=D(0), max_value=D(3), places=4)] * 2),
)
def test_a_tariff_change_mid_interval_prices_each_part_with_its_version(
    change: int,
    before_hours: int,
    after_hours: int,
    rate: Decimal,
    prices: tuple[Decimal, Decimal],
) -> None:
    effective = date(2026, 9, 10) + timedelta(days=change)
    old = parse_tariff(HEAD.format(date="2026-09-01") + f'price = "{prices[0]:f}"\n')
    new = parse_tariff(HEAD.format(date=effective.isoformat()) + f'price = "{prices[1]:f}"\n')
    boundary = datetime(effective.year, effective.month, effective.day)
    start = boundary - timedelta(hours=before_hours)
    end = boundary + timedelta(hours=after_hours)
    result = quote_versions([old, new], [(start, end, rate * (before_hours + after_hours))])
    parts = {line.effective_from: line for line in result.lines}
    assert parts[old.effective_from].quantity == rate * before_hours
    assert parts[old.effective_from].exact_amount == rate * before_hours * prices[0]
    assert parts[new.effective_from].quantity == rate * after_hours
    assert parts[new.effective_from].exact_amount == rate * after_hours * prices[1]
    expected = rate * before_hours * prices[0] + rate * after_hours * prices[1]
    assert result.exact_total == expected
    postings = Rater([old, new]).post(start, end, rate * (before_hours + after_hours))
    assert sum(p.exact for p in postings) == expected


def step_ranges(uptos: list[Decimal]) -> list[tuple[Decimal, Decimal | None]]:
    lows = [D(0), *uptos]
    highs: list[Decimal | None] = [*uptos, None]
    return list(zip(lows, highs, strict=True))


def overlap(a: Decimal, b: Decimal, low: Decimal, high: Decimal | None) -> Decimal:
    top = b if high is None else min(b, high)
    return max(D(0), top - max(a, low))


@given(
    allowance=st.decimals(min_value=D(0), max_value=D(40), places=1),
    cycle_used=st.decimals(min_value=D(0), max_value=D(60), places=2),
    uptos=st.lists(st.integers(1, 30), min_size=0, max_size=3, unique=True),
    mode=st.sampled_from(["graduated", "all_units"]),
    basis=st.sampled_from(["surcharge", "price"]),
    quantities=st.lists(
        st.decimals(min_value=D(0), max_value=D(30), places=2), min_size=1, max_size=8
    ),
)
def test_allowance_and_tiers_interact_as_domain_md_says(
    allowance: Decimal,
    cycle_used: Decimal,
    uptos: list[int],
    mode: str,
    basis: str,
    quantities: list[Decimal],
) -> None:
    limits = [D(u) * 2 for u in sorted(uptos)]
    values = [D("0.1") * (i + 1) for i in range(len(limits) + 1)]
    steps = [f'{{ upto = "{u}", value = "{v}" }}' for u, v in zip(limits, values, strict=False)]
    steps.append(f'{{ value = "{values[-1]}" }}')
    text = HEAD.format(date="2026-09-01") + ('price = "0.5000"\n' if basis == "surcharge" else "")
    text += f'[tiers]\ncycle = "month"\nmode = "{mode}"\nbasis = "{basis}"\n'
    text += f"steps = [{', '.join(steps)}]\n"
    text += ALLOWANCE.format(quantity=f"{allowance:f}", cycle="month")
    tariff = parse_tariff(text)
    rows = [
        (datetime(2026, 9, 1 + 3 * i), datetime(2026, 9, 2 + 3 * i), q)
        for i, q in enumerate(quantities)
    ]
    result = quote(tariff, rows, cycle_used)

    # The model: units c..c+U of the month; the first max(0, A - c) of them are free.
    used = sum(quantities, D(0))
    free = min(used, max(D(0), allowance - cycle_used))
    ranges = step_ranges(limits)

    def price(step: int) -> Decimal:
        return values[step - 1] + (D("0.5") if basis == "surcharge" else D(0))

    expected: dict[tuple[str, int], Decimal] = {}
    for number, (low, high) in enumerate(ranges, start=1):
        expected[("allowance", number)] = overlap(cycle_used, cycle_used + free, low, high)
        if mode == "graduated":
            paid = overlap(cycle_used + free, cycle_used + used, low, high)
            expected[("energy", number)] = paid
    if mode == "all_units":
        total = cycle_used + used
        reached = next(n for n, (_, high) in enumerate(ranges, 1) if high is None or total <= high)
        expected[("energy", reached)] = used - free
    expected = {key: q for key, q in expected.items() if q}
    got = {(line.kind, line.tier or 0): line.quantity for line in result.lines}
    assert got == expected
    assert result.exact_total == sum(
        (q * price(tier) for (kind, tier), q in expected.items() if kind == "energy"), D(0)
    )


def assert_no_floats(value: object) -> None:
    assert not isinstance(value, float), value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            assert_no_floats(getattr(value, field.name))
    elif isinstance(value, (tuple, list)):
        for item in value:
            assert_no_floats(item)


@given(tariffs(), readings(), st.decimals(min_value=D(0), max_value=D(100), places=2))
def test_the_total_is_the_sum_of_the_lines_and_nothing_is_a_float(
    tariff: Tariff, usage: list[tuple[datetime, int, Decimal]], cycle_used: Decimal
) -> None:
    rows = [(s, s + timedelta(minutes=m), r * m) for s, m, r in usage]
    result = quote(tariff, rows, cycle_used)
    assert isinstance(result, Quote)
    assert result.total == Money(sum(line.amount.minor for line in result.lines), "CNY")
    for line in result.lines:
        assert line.amount.minor == round_to_minor(line.exact_amount, "CNY")
        assert line.exact_amount == line.quantity * line.unit_price
        assert type(line.amount.minor) is int
    assert sum(line.quantity for line in result.lines if line.kind != "fee") == sum(
        (q for _, _, q in rows), D(0)
    )
    assert_no_floats(result)
    assert_no_floats(Rater(tariff).post(rows[0][0], rows[0][1], rows[0][2]))
