"""Quote semantics of DOMAIN.md section 2 on hand-computed examples, and the live ``Rater``."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from app.billing.money import Money
from app.billing.rating import (
    Line,
    Quote,
    Rater,
    UsageError,
    decimal_text,
    quote,
    quote_versions,
)
from app.billing.tariff import Tariff, parse_tariff
from app.billing.tariff.schedule import ScheduleError, TariffSchedule

D = Decimal
TARIFFS = Path(__file__).resolve().parents[3] / "resources" / "tariffs"

HEAD = """\
name = "Test"
utility = "electricity"
unit = "kWh"
currency = "CNY"
effective_from = 2026-09-01
"""
# Beijing residential: 240 and 400 kWh a month, +0.05 and +0.30 CNY/kWh above them.
BEIJING_TIERS = """
[tiers]
cycle = "month"
mode = "{mode}"
basis = "surcharge"
steps = [{{ upto = "240", value = "0.0000" }}, {{ upto = "400", value = "0.0500" }},
         {{ value = "0.3000" }}]
"""


def tariff(text: str) -> Tariff:
    return parse_tariff(HEAD + text)


def shipped(name: str) -> Tariff:
    return parse_tariff((TARIFFS / name).read_text(encoding="utf-8"), name)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def row(start: str, end: str, quantity: str) -> tuple[datetime, datetime, Decimal]:
    return (at(start), at(end), D(quantity))


def summary(result: Quote) -> list[tuple[str, str | None, int | None, str, str, str]]:
    """(kind, period, tier, quantity, unit price, amount) of each line, as text."""
    return [
        (
            line.kind,
            line.period,
            line.tier,
            decimal_text(line.quantity),
            str(line.unit_price),
            str(line.amount),
        )
        for line in result.lines
    ]


def check_total(result: Quote) -> None:
    assert result.total == Money(sum(line.amount.minor for line in result.lines), "CNY")


# -- single rate, time of use -------------------------------------------------------------------


def test_single_rate_sums_the_rows() -> None:
    single = tariff('price = "0.5800"\n')
    result = quote(
        single,
        [
            row("2026-09-02T00:00", "2026-09-03T00:00", "10"),
            row("2026-09-03T00:00", "2026-09-03T06:00", "2.5"),
        ],
    )
    assert summary(result) == [("energy", None, None, "12.5", "0.5800", "7.25")]
    assert result.total == Money(725, "CNY")
    assert (result.start, result.end) == (at("2026-09-02T00:00"), at("2026-09-03T06:00"))


def test_no_usage_costs_nothing() -> None:
    result = quote(shipped("tou-electricity.toml"), [])
    assert (result.lines, result.total, result.start) == ((), Money(0, "CNY"), None)


def test_tou_across_midnight_splits_in_proportion_to_time() -> None:
    tou = shipped("tou-electricity.toml")
    # Tuesday 21:00 to Wednesday 01:00, 2 kWh an hour: 21-22 peak, 22-24 and 0-1 valley.
    result = quote(tou, [row("2026-09-08T21:00", "2026-09-09T01:00", "8")])
    assert summary(result) == [
        ("energy", "peak", None, "2", "0.8800", "1.76"),
        ("energy", "valley", None, "6", "0.2200", "1.32"),
        ("fee", None, None, "1", "5.00", "5.00"),
    ]
    assert result.total == Money(808, "CNY")
    assert result.lines[-1].name == "Meter service fee"


def test_a_split_that_does_not_divide_evenly_keeps_the_quantity_exact() -> None:
    tou = shipped("tou-electricity.toml")
    result = quote(tou, [row("2026-09-08T21:00", "2026-09-09T00:00", "10")])
    peak, valley = result.lines[:2]
    assert peak.quantity == D("3.333333333")
    assert valley.quantity == D("6.666666667")
    assert peak.quantity + valley.quantity == D(10)
    assert peak.exact_amount == D("2.93333333304")
    assert (str(peak.amount), str(valley.amount)) == ("2.93", "1.47")


def test_a_season_boundary_switches_the_day_table_at_midnight() -> None:
    tou = shipped("tou-electricity.toml")
    # 2027-08-31 is a summer Tuesday (17-22 flat, 22-24 valley); 2027-09-01 a normal Wednesday
    # (0-8 valley, 8-11 peak). 1 kWh an hour from 20:00 to 10:00.
    result = quote(tou, [row("2027-08-31T20:00", "2027-09-01T10:00", "14")])
    assert summary(result) == [
        ("energy", "peak", None, "2", "0.8800", "1.76"),
        ("energy", "flat", None, "2", "0.5500", "1.10"),
        ("energy", "valley", None, "10", "0.2200", "2.20"),
        ("fee", None, None, "2", "5.00", "10.00"),  # August and September both overlap
    ]
    check_total(result)


def test_noon_is_peak_in_summer_and_flat_after_it() -> None:
    tou = shipped("tou-electricity.toml")
    summer = quote(tou, [row("2027-08-31T12:00", "2027-08-31T13:00", "1")])
    autumn = quote(tou, [row("2027-09-01T12:00", "2027-09-01T13:00", "1")])
    assert summer.lines[0].period == "peak"
    assert autumn.lines[0].period == "flat"


def test_holidays_and_weekends_use_their_tables() -> None:
    tou = shipped("tou-electricity.toml")
    holiday = quote(tou, [row("2026-10-01T09:00", "2026-10-01T10:00", "2")])  # a Thursday
    workday = quote(tou, [row("2026-10-08T09:00", "2026-10-08T10:00", "2")])  # a Thursday
    saturday = quote(tou, [row("2026-10-10T09:00", "2026-10-10T10:00", "2")])
    assert summary(holiday)[0] == ("energy", "valley", None, "2", "0.2200", "0.44")
    assert summary(workday)[0] == ("energy", "peak", None, "2", "0.8800", "1.76")
    assert summary(saturday)[0] == ("energy", "flat", None, "2", "0.5500", "1.10")


def test_lines_follow_the_order_of_the_periods_table() -> None:
    tou = shipped("tou-electricity.toml")
    rows = [
        row("2026-09-08T03:00", "2026-09-08T04:00", "1"),  # valley
        row("2026-09-08T12:00", "2026-09-08T13:00", "1"),  # flat
        row("2026-09-08T19:00", "2026-09-08T20:00", "1"),  # peak
    ]
    assert [line.period for line in quote(tou, rows).lines] == ["peak", "flat", "valley", None]
    assert [line.period for line in quote(tou, rows[::-1]).lines] == [
        "peak",
        "flat",
        "valley",
        None,
    ]


# -- tiers --------------------------------------------------------------------------------------

SEPTEMBER = ("2026-09-01T00:00", "2026-10-01T00:00")


def test_beijing_graduated_240_400() -> None:
    beijing = tariff('price = "0.4883"\n' + BEIJING_TIERS.format(mode="graduated"))
    result = quote(beijing, [row(*SEPTEMBER, "500")])
    assert summary(result) == [
        ("energy", None, 1, "240", "0.4883", "117.19"),  # 117.192
        ("energy", None, 2, "160", "0.5383", "86.13"),  # 86.128
        ("energy", None, 3, "100", "0.7883", "78.83"),
    ]
    assert result.total == Money(28215, "CNY")


@pytest.mark.parametrize(
    ("used", "tier", "price", "amount"),
    [
        ("240", 1, "0.4883", "117.19"),  # the 240th kWh is still in the first step
        ("240.001", 2, "0.5383", "129.19"),  # 129.1920383
        ("300", 2, "0.5383", "161.49"),
        ("500", 3, "0.7883", "394.15"),
    ],
)
def test_beijing_all_units_prices_every_unit_at_the_step_reached(
    used: str, tier: int, price: str, amount: str
) -> None:
    beijing = tariff('price = "0.4883"\n' + BEIJING_TIERS.format(mode="all_units"))
    result = quote(beijing, [row(*SEPTEMBER, used)])
    assert summary(result) == [("energy", None, tier, used, price, amount)]


def test_surcharge_tiers_on_top_of_time_of_use() -> None:
    text = (
        '[tou]\nperiods = { peak = "0.8000", valley = "0.3000" }\n'
        'weekday = [["00:00","12:00","valley"], ["12:00","24:00","peak"]]\n'
        + BEIJING_TIERS.format(mode="graduated")
    )
    # 300 kWh on Tuesday 1 September: the valley half (150) first, then the peak half.
    result = quote(tariff(text), [row("2026-09-01T00:00", "2026-09-02T00:00", "300")])
    assert summary(result) == [
        ("energy", "peak", 1, "90", "0.8000", "72.00"),
        ("energy", "peak", 2, "60", "0.8500", "51.00"),
        ("energy", "valley", 1, "150", "0.3000", "45.00"),
    ]


def test_all_units_across_periods_takes_the_step_of_the_cycle_total() -> None:
    text = (
        '[tou]\nperiods = { peak = "0.8000", valley = "0.3000" }\n'
        'weekday = [["00:00","12:00","valley"], ["12:00","24:00","peak"]]\n'
        + BEIJING_TIERS.format(mode="all_units")
    )
    result = quote(tariff(text), [row("2026-09-01T00:00", "2026-09-02T00:00", "300")])
    assert summary(result) == [
        ("energy", "peak", 2, "150", "0.8500", "127.50"),
        ("energy", "valley", 2, "150", "0.3500", "52.50"),
    ]


def test_price_basis_graduated_water() -> None:
    water = shipped("tiered-water.toml")
    result = quote(water, [row(*SEPTEMBER, "15")])
    assert summary(result) == [
        ("energy", None, 1, "6", "3.5000", "21.00"),
        ("energy", None, 2, "6", "5.2500", "31.50"),
        ("energy", None, 3, "3", "9.0000", "27.00"),
    ]
    assert result.total == Money(7950, "CNY")


def test_cycle_used_starts_the_tier_position_of_the_first_cycle_only() -> None:
    water = shipped("tiered-water.toml")
    result = quote(water, [row(*SEPTEMBER, "15")], D("2"))
    assert summary(result) == [
        ("energy", None, 1, "4", "3.5000", "14.00"),
        ("energy", None, 2, "6", "5.2500", "31.50"),
        ("energy", None, 3, "5", "9.0000", "45.00"),
    ]
    # September from position 10 (1 m3 a day, 10 days): units 10-12 in step 2, 12-20 in step 3.
    # October from 0: units 0-6 in step 1, 6-10 in step 2.
    two_months = quote(water, [row("2026-09-21T00:00", "2026-10-11T00:00", "20")], D("10"))
    assert summary(two_months) == [
        ("energy", None, 1, "6", "3.5000", "21.00"),
        ("energy", None, 2, "6", "5.2500", "31.50"),
        ("energy", None, 3, "8", "9.0000", "72.00"),
    ]


def test_price_basis_all_units_water() -> None:
    text = (TARIFFS / "tiered-water.toml").read_text(encoding="utf-8")
    water = parse_tariff(text.replace('"graduated"', '"all_units"'))
    assert summary(quote(water, [row(*SEPTEMBER, "15")])) == [
        ("energy", None, 3, "15", "9.0000", "135.00")
    ]
    assert summary(quote(water, [row(*SEPTEMBER, "12")])) == [
        ("energy", None, 2, "12", "5.2500", "63.00")
    ]


# -- allowance ----------------------------------------------------------------------------------

ALLOWANCE_TIERS = """price = "0.5000"
[tiers]
cycle = "month"
mode = "{mode}"
basis = "surcharge"
steps = [{{ upto = "20", value = "0" }}, {{ value = "0.1000" }}]
[allowance]
quantity = "15"
cycle = "month"
"""


def test_single_rate_allowance_is_free_first() -> None:
    dorm = shipped("dorm-electricity.toml")
    result = quote(dorm, [row("2026-09-01T00:00", "2026-09-11T00:00", "20")])
    assert summary(result) == [
        ("energy", None, None, "5", "0.5800", "2.90"),
        ("allowance", None, None, "15", "0", "0.00"),
    ]
    used = quote(dorm, [row("2026-09-01T00:00", "2026-09-11T00:00", "20")], D("12"))
    assert summary(used)[0] == ("energy", None, None, "17", "0.5800", "9.86")


def test_allowance_units_count_towards_the_tier_position() -> None:
    graduated = tariff(ALLOWANCE_TIERS.format(mode="graduated"))
    result = quote(graduated, [row(*SEPTEMBER, "30")])
    assert summary(result) == [
        ("energy", None, 1, "5", "0.5000", "2.50"),  # units 15-20
        ("energy", None, 2, "10", "0.6000", "6.00"),  # units 20-30
        ("allowance", None, 1, "15", "0", "0.00"),  # units 0-15, free
    ]
    all_units = tariff(ALLOWANCE_TIERS.format(mode="all_units"))
    assert summary(quote(all_units, [row(*SEPTEMBER, "30")])) == [
        ("energy", None, 2, "15", "0.6000", "9.00"),  # every paid unit at the step of 30
        ("allowance", None, 1, "15", "0", "0.00"),
    ]


def test_cycle_used_uses_up_the_allowance_and_moves_the_tiers() -> None:
    graduated = tariff(ALLOWANCE_TIERS.format(mode="graduated"))
    result = quote(graduated, [row(*SEPTEMBER, "30")], D("10"))
    assert summary(result) == [
        ("energy", None, 1, "5", "0.5000", "2.50"),  # units 15-20
        ("energy", None, 2, "20", "0.6000", "12.00"),  # units 20-40
        ("allowance", None, 1, "5", "0", "0.00"),  # units 10-15
    ]
    # the allowance part can be given on its own
    own = quote(graduated, [row(*SEPTEMBER, "30")], D("10"), allowance_used=D("0"))
    assert [line.quantity for line in own.lines if line.kind == "allowance"] == [D(10), D(5)]


def test_each_cycle_gets_its_allowance_and_starts_its_tiers_at_zero() -> None:
    graduated = tariff(ALLOWANCE_TIERS.format(mode="graduated"))
    # 2 units a day from 20 September to 10 October: 22 in September, 18 in October.
    result = quote(graduated, [row("2026-09-20T00:00", "2026-10-10T00:00", "40")], D("10"))
    assert summary(result) == [
        ("energy", None, 1, "8", "0.5000", "4.00"),  # September 15-20, October 15-18
        ("energy", None, 2, "12", "0.6000", "7.20"),  # September 20-32
        ("allowance", None, 1, "20", "0", "0.00"),  # September 10-15, October 0-15
    ]
    assert result.total == Money(1120, "CNY")


# -- fees, rounding, versions, rows -------------------------------------------------------------

FEES = """price = "1"
[[fees]]
name = "Service"
amount = "5.00"
every = "month"
[[fees]]
name = "Meter rent"
amount = "2.00"
every = "week"
"""


@pytest.mark.parametrize(
    ("start", "end", "months", "weeks"),
    [
        ("2026-09-27T12:00", "2026-10-05T00:00:01", 2, 3),  # Sunday to just into a Monday
        ("2026-09-27T12:00", "2026-10-05T00:00", 2, 2),  # ends exactly where a week starts
        ("2026-09-28T00:00", "2026-09-29T00:00", 1, 1),
        ("2026-09-30T23:00", "2026-10-01T01:00", 2, 1),
    ],
)
def test_one_fee_per_fee_cycle_overlapping_the_window(
    start: str, end: str, months: int, weeks: int
) -> None:
    result = quote(tariff(FEES), [row(start, end, "0")])
    assert [(line.name, line.quantity, str(line.amount)) for line in result.lines] == [
        ("Service", D(months), f"{5 * months}.00"),
        ("Meter rent", D(weeks), f"{2 * weeks}.00"),
    ]


def test_the_window_spans_gaps_between_rows() -> None:
    rows = [
        row("2026-09-01T00:00", "2026-09-01T01:00", "1"),
        row("2026-11-30T00:00", "2026-11-30T01:00", "1"),
    ]
    service = quote(tariff(FEES), rows).lines[1]
    assert (service.name, service.quantity) == ("Service", D(3))


HALF_DAYS = 'weekday = [["00:00","12:00","a"], ["12:00","24:00","b"]]\n'


def test_each_line_is_rounded_half_up_and_the_total_is_their_sum() -> None:
    text = '[tou]\nperiods = { a = "0.125", b = "0.125" }\n' + HALF_DAYS
    result = quote(tariff(text), [row("2026-09-01T11:00", "2026-09-01T13:00", "2")])
    assert [str(line.amount) for line in result.lines] == ["0.13", "0.13"]  # 0.125 each
    assert result.exact_total == D("0.25")
    assert result.total == Money(26, "CNY")
    tiny = quote(tariff('price = "0.0049"\n'), [row(*SEPTEMBER, "1")])
    assert str(tiny.total) == "0.00"


def test_versions_price_each_part_of_an_interval() -> None:
    old = tariff('price = "0.5000"\n')
    new = parse_tariff(HEAD.replace("2026-09-01", "2026-10-01") + 'price = "0.6000"\n')
    result = quote_versions([new, old], [row("2026-09-30T12:00", "2026-10-01T12:00", "24")])
    assert [
        (line.effective_from, line.quantity, line.unit_price, str(line.amount))
        for line in result.lines
    ] == [
        (date(2026, 9, 1), D(12), D("0.5000"), "6.00"),
        (date(2026, 10, 1), D(12), D("0.6000"), "7.20"),
    ]
    with pytest.raises(UsageError, match="No tariff version is in force on 2026-08-31") as info:
        quote_versions(
            [old, new],
            [
                row("2026-10-01T00:00", "2026-10-02T00:00", "1"),
                row("2026-08-31T23:00", "2026-09-01T01:00", "1"),
            ],
        )
    assert info.value.row == 1


def test_versions_must_agree_and_differ_in_date() -> None:
    old = tariff('price = "0.5000"\n')
    with pytest.raises(ScheduleError, match="must agree"):
        TariffSchedule(
            [
                old,
                parse_tariff(
                    HEAD.replace("CNY", "USD").replace("09-01", "10-01") + 'price = "1"\n'
                ),
            ]
        )
    with pytest.raises(ScheduleError, match="its own date"):
        TariffSchedule([old, old])


def test_the_tier_position_carries_over_a_version_change_within_the_cycle() -> None:
    old = tariff('price = "0.5000"\n' + BEIJING_TIERS.format(mode="graduated"))
    new = parse_tariff(
        HEAD.replace("09-01", "09-16")
        + 'price = "0.6000"\n'
        + BEIJING_TIERS.format(mode="graduated")
    )
    # 10 kWh a day in September: 150 under the old version, then 150 under the new one,
    # of which units 240-300 fall in the second step.
    result = quote_versions([old, new], [row(*SEPTEMBER, "300")])
    assert summary(result) == [
        ("energy", None, 1, "150", "0.5000", "75.00"),
        ("energy", None, 1, "90", "0.6000", "54.00"),
        ("energy", None, 2, "60", "0.6500", "39.00"),
    ]


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        (row("2026-09-02T00:00", "2026-09-01T00:00", "1"), "the end must be later"),
        (row("2026-09-01T00:00", "2026-09-01T00:00", "1"), "the end must be later"),
        (row("2026-09-01T00:00", "2026-09-02T00:00", "-1"), "negative"),
        ((at("2026-09-01T00:00"), at("2026-09-02T00:00"), 1.5), "exact Decimal"),
        ((at("2026-09-01T00:00+08:00"), at("2026-09-02T00:00+08:00"), D(1)), "time zone"),
        (row("2026-09-01T12:00", "2026-09-02T12:00", "1"), "overlaps"),
    ],
)
def test_bad_rows_are_refused_with_their_position(
    bad: tuple[datetime, datetime, Decimal], words: str
) -> None:
    good = row("2026-09-02T00:00", "2026-09-03T00:00", "1")
    with pytest.raises(UsageError, match=words) as info:
        quote(tariff('price = "1"\n'), [good, bad])
    assert info.value.row == 1


def test_rows_are_taken_in_time_order_whatever_their_order_in_the_input() -> None:
    text = '[tou]\nperiods = { a = "1", b = "2" }\n' + HALF_DAYS
    text += '[tiers]\ncycle = "month"\nmode = "graduated"\nbasis = "surcharge"\n'
    text += 'steps = [{ upto = "10", value = "0" }, { value = "10" }]\n'
    rows = [
        row("2026-09-01T13:00", "2026-09-01T14:00", "10"),
        row("2026-09-01T01:00", "2026-09-01T02:00", "10"),
    ]
    # The morning's 10 units (period a) come first and fill step 1.
    assert summary(quote(tariff(text), rows)) == [
        ("energy", "a", 1, "10", "1", "10.00"),
        ("energy", "b", 2, "10", "12", "120.00"),
    ]


def test_amounts_are_money_and_quantities_decimal() -> None:
    result = quote(
        shipped("tou-electricity.toml"), [row("2026-09-08T21:00", "2026-09-09T01:00", "8")]
    )
    for line in result.lines:
        assert isinstance(line, Line)
        assert type(line.amount.minor) is int
        assert isinstance(line.quantity, Decimal)
        assert isinstance(line.exact_amount, Decimal)


# -- the Rater ----------------------------------------------------------------------------------


def test_the_rater_carries_the_rounding_residue() -> None:
    rater = Rater(tariff('price = "0.004"\n'))
    amounts = []
    for hour in range(10):
        (posting,) = rater.post(
            at(f"2026-09-01T{hour:02d}:00"), at(f"2026-09-01T{hour + 1:02d}:00"), D(1)
        )
        assert posting.exact == D("0.004")
        amounts.append(posting.amount.minor)
    assert amounts == [0, 1, 0, 1, 0, 0, 1, 0, 1, 0]  # cumulative 0.004 .. 0.040 rounded
    assert sum(amounts) == 4
    assert rater.residue == D("0.00")
    assert rater.cycle_posted == Money(4, "CNY")


def test_the_rater_starts_a_new_cycle_at_the_month_boundary() -> None:
    rater = Rater(shipped("tiered-water.toml"))
    postings = rater.post(at("2026-09-30T12:00"), at("2026-10-01T12:00"), D("14"))
    # 7 m3 in September: 6 x 3.50 + 1 x 5.25; 7 in October, the tiers again from 0.
    assert [(p.cycle, str(p.amount), p.exact) for p in postings] == [
        (date(2026, 9, 1), "26.25", D("26.25")),
        (date(2026, 10, 1), "26.25", D("26.25")),
    ]
    assert rater.cycle == date(2026, 10, 1)


def test_the_rater_keeps_tier_position_and_allowance_between_posts() -> None:
    rater = Rater(tariff(ALLOWANCE_TIERS.format(mode="graduated")))
    first = rater.post(at("2026-09-01T00:00"), at("2026-09-02T00:00"), D("18"))
    second = rater.post(at("2026-09-02T00:00"), at("2026-09-03T00:00"), D("12"))
    assert [p.amount for p in first + second] == [
        Money(150, "CNY"),
        Money(700, "CNY"),
    ]  # 3x0.5; 2x0.5+10x0.6


def test_the_rater_reprices_all_units_when_a_step_is_reached() -> None:
    text = '[tiers]\ncycle = "month"\nmode = "all_units"\nbasis = "price"\n'
    text += 'steps = [{ upto = "10", value = "1.00" }, { value = "2.00" }]\n'
    rater = Rater(tariff(text))
    (first,) = rater.post(at("2026-09-01T00:00"), at("2026-09-02T00:00"), D(10))
    (second,) = rater.post(at("2026-09-02T00:00"), at("2026-09-03T00:00"), D(1))
    assert (first.amount.minor, second.amount.minor) == (1000, 1200)  # 11 x 2.00 = 22.00 in all
    assert second.exact == D("12.00")


def test_the_rater_wants_slices_in_time_order() -> None:
    rater = Rater(tariff('price = "1"\n'))
    rater.post(at("2026-09-01T01:00"), at("2026-09-01T02:00"), D(1))
    with pytest.raises(UsageError, match="time order"):
        rater.post(at("2026-09-01T01:30"), at("2026-09-01T03:00"), D(1))


def test_a_failed_post_changes_nothing() -> None:
    old = tariff('price = "1"\n')
    rater = Rater([old])
    with pytest.raises(UsageError, match="No tariff version"):
        rater.post(at("2026-08-31T23:00"), at("2026-09-01T01:00"), D(2))
    (posting,) = rater.post(at("2026-09-01T01:00"), at("2026-09-01T02:00"), D(2))
    assert posting.amount == Money(200, "CNY")
