"""Tariff files: the shipped ones load exactly; every kind of mistake is reported with its place,
and all mistakes of a file are reported together."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from app.billing.tariff import (
    Allowance,
    Band,
    Fee,
    MonthDay,
    Tariff,
    TariffFileError,
    Tiers,
    TierStep,
    parse_tariff,
)

TARIFFS = Path(__file__).resolve().parents[3] / "resources" / "tariffs"
SHIPPED = sorted(TARIFFS.glob("*.toml"))

HEAD = """\
name = "Test tariff"
utility = "electricity"
unit = "kWh"
currency = "CNY"
effective_from = 2026-09-01
"""
TOU = """
[tou]
periods = { peak = "0.8000", flat = "0.5500", valley = "0.2500" }
weekday = [["00:00","08:00","valley"], ["08:00","11:00","peak"], ["11:00","18:00","flat"],
           ["18:00","22:00","peak"], ["22:00","24:00","valley"]]
"""
TIERS = """
[tiers]
cycle = "month"
mode = "graduated"
basis = "surcharge"
steps = [{ upto = "240", value = "0.0000" }, { upto = "400", value = "0.0500" },
         { value = "0.3000" }]
"""


def problems_of(text: str) -> tuple[str, ...]:
    with pytest.raises(TariffFileError) as info:
        parse_tariff(text, "t.toml")
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def only_problem(text: str) -> str:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


def load(name: str) -> Tariff:
    path = TARIFFS / name
    return parse_tariff(path.read_text(encoding="utf-8"), str(path))


# -- the shipped tariffs ------------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_tariff_loads(path: Path) -> None:
    tariff = parse_tariff(path.read_text(encoding="utf-8"), str(path))
    assert tariff.currency == "CNY"
    assert tariff.kinds


def test_the_dormitory_tariff_is_a_single_rate_with_an_allowance() -> None:
    tariff = load("dorm-electricity.toml")
    assert tariff.price == Decimal("0.5800")
    assert (tariff.tou, tariff.tiers, tariff.fees) == (None, None, ())
    assert tariff.allowance == Allowance(Decimal("15"), "month")


def test_the_water_tariff_has_price_basis_steps() -> None:
    tariff = load("tiered-water.toml")
    assert tariff.price is None
    assert tariff.tiers == Tiers(
        "month",
        "graduated",
        "price",
        (
            TierStep(Decimal("6"), Decimal("3.5000")),
            TierStep(Decimal("12"), Decimal("5.2500")),
            TierStep(None, Decimal("9.0000")),
        ),
    )


def test_the_time_of_use_tariff_reads_bands_holidays_seasons_and_fees() -> None:
    tariff = load("tou-electricity.toml")
    tou = tariff.tou
    assert tou is not None
    assert tou.period_names() == ("peak", "flat", "valley")
    assert tou.price_of("peak") == Decimal("0.8800")
    assert tou.weekday[1] == Band(8 * 60, 11 * 60, "peak")
    assert tou.weekday[-1] == Band(22 * 60, 24 * 60, "valley")
    assert tou.holiday == (Band(0, 1440, "valley"),)
    assert date(2026, 10, 1) in tou.holidays
    assert len(tou.holidays) == 4
    (summer,) = tou.seasons
    assert (summer.name, summer.first, summer.last) == ("summer", MonthDay(7, 1), MonthDay(8, 31))
    assert summer.weekend is None
    assert tariff.fees == (Fee("Meter service fee", Decimal("5.00"), "month"),)
    # day tables: a summer weekday uses the season, a summer weekend the base weekend
    assert tou.table_for(date(2027, 7, 5)) == summer.weekday  # a Monday
    assert tou.table_for(date(2027, 7, 3)) == tou.weekend  # a Saturday
    assert tou.table_for(date(2026, 10, 1)) == tou.holiday
    assert tou.table_for(date(2026, 9, 7)) == tou.weekday


def test_a_full_tariff_parses_every_part() -> None:
    text = HEAD + TOU + TIERS + '[allowance]\nquantity = "15"\ncycle = "week"\n'
    text += '[[fees]]\nname = "Rent"\namount = "2"\nevery = "week"\n'
    tariff = parse_tariff(text)
    assert tariff.tiers is not None
    assert tariff.tiers.steps[1] == TierStep(Decimal("400"), Decimal("0.0500"))
    assert tariff.allowance == Allowance(Decimal("15"), "week")
    assert tariff.fees == (Fee("Rent", Decimal("2"), "week"),)
    assert tariff.tou is not None
    assert tariff.tou.weekend is None
    assert tariff.tou.table_for(date(2026, 9, 5)) == tariff.tou.weekday  # weekend as weekday


def test_weekday_and_weekend_default_in_order() -> None:
    text = HEAD + TOU + 'weekend = [["00:00","24:00","flat"]]\n'
    tou = parse_tariff(text).tou
    assert tou is not None
    holiday = date(2026, 10, 1)
    text_with_holiday = text + "holidays = [2026-10-01]\n"
    tou_h = parse_tariff(text_with_holiday).tou
    assert tou_h is not None
    assert tou_h.table_for(holiday) == (Band(0, 1440, "flat"),)  # holiday defaults to weekend
    assert tou.table_for(holiday) == tou.weekday  # not a holiday there: a Thursday


def test_bands_out_of_order_are_accepted_and_sorted() -> None:
    text = HEAD + (
        '[tou]\nperiods = { a = "1", b = "2" }\n'
        'weekday = [["12:00","24:00","b"], ["00:00","12:00","a"]]\n'
    )
    tou = parse_tariff(text).tou
    assert tou is not None
    assert tou.weekday == (Band(0, 720, "a"), Band(720, 1440, "b"))


def test_a_season_may_wrap_past_the_new_year() -> None:
    text = (
        HEAD
        + TOU
        + (
            '[[tou.season]]\nname = "winter"\nfrom = "12-01"\nto = "02-29"\n'
            'weekday = [["00:00","24:00","flat"]]\n'
        )
    )
    tou = parse_tariff(text).tou
    assert tou is not None
    (winter,) = tou.seasons
    assert winter.contains(date(2026, 12, 31))
    assert winter.contains(date(2028, 2, 29))
    assert winter.contains(date(2027, 1, 15))
    assert not winter.contains(date(2027, 3, 1))
    assert not winter.contains(date(2026, 11, 30))


# -- mistakes -----------------------------------------------------------------------------------


def test_all_mistakes_of_a_file_are_reported_together() -> None:
    text = HEAD.replace('"kWh"', '"m3"') + 'price = 0.58\ncolour = "red"\n'
    problems = problems_of(text)
    assert len(problems) == 3
    assert problems[0].startswith("t.toml: 'unit' is 'm3'")
    assert any(p.startswith("t.toml: price: 0.58 is a bare number") for p in problems)
    assert any(p.startswith("t.toml: colour: unknown key") for p in problems)


def test_floats_must_be_quoted() -> None:
    message = only_problem(HEAD + "price = 0.58\n")
    assert message.startswith("t.toml: price: ")
    assert 'write it in quotes, "0.58"' in message


def test_integers_must_be_quoted_too() -> None:
    message = only_problem(
        HEAD + '[tiers]\ncycle = "month"\nmode = "graduated"\nbasis = "price"\n'
        'steps = [{ upto = 6, value = "3.5" }, { value = "5" }]\n'
    )
    assert message.startswith("t.toml: tiers.steps[1].upto: 6 is a bare number")


@pytest.mark.parametrize(
    ("text", "place", "words"),
    [
        (HEAD + 'price = "-0.58"\n', "price", "negative"),
        (HEAD + 'price = "0,58"\n', "price", "not a plain decimal"),
        (HEAD + 'price = "1e3"\n', "price", "not a plain decimal"),
        (HEAD + "price = true\n", "price", "got true/false"),
        (
            HEAD + TOU.replace('valley = "0.2500"', 'valley = "-0.25"'),
            "tou.periods.valley",
            "negative",
        ),
        (
            HEAD + TOU + TIERS.replace('value = "0.3000"', 'value = "-1"'),
            "tiers.steps[3].value",
            "negative",
        ),
        (
            HEAD + 'price = "1"\n[[fees]]\nname = "x"\namount = "-5"\nevery = "month"\n',
            "fees[1].amount",
            "negative",
        ),
        (
            HEAD + 'price = "1"\n[[fees]]\nname = "x"\namount = "5.001"\nevery = "month"\n',
            "fees[1].amount",
            "more than 2 decimals",
        ),
        (
            HEAD + 'price = "1"\n[allowance]\nquantity = "-1"\ncycle = "month"\n',
            "allowance.quantity",
            "negative",
        ),
    ],
)
def test_bad_numbers_are_named(text: str, place: str, words: str) -> None:
    message = only_problem(text)
    assert message.startswith(f"t.toml: {place}: ")
    assert words in message


def test_overlapping_bands_name_both_bands_and_the_times() -> None:
    text = HEAD + TOU.replace('["08:00","11:00","peak"]', '["07:00","11:00","peak"]')
    message = only_problem(text)
    assert message == (
        "t.toml: tou.weekday: bands 00:00-08:00 valley and 07:00-11:00 peak overlap at "
        "07:00-08:00; each time of day belongs to one band."
    )


def test_a_gap_between_bands_is_named() -> None:
    text = HEAD + TOU.replace('["11:00","18:00","flat"]', '["12:00","18:00","flat"]')
    assert "nothing covers 11:00-12:00" in only_problem(text)


def test_gaps_at_both_ends_of_the_day_are_named() -> None:
    text = HEAD + '[tou]\nperiods = { a = "1" }\nweekday = [["01:00","23:30","a"]]\n'
    problems = problems_of(text)
    assert [p.split(": ")[2].split(";")[0] for p in problems] == [
        "nothing covers 00:00-01:00",
        "nothing covers 23:30-24:00",
    ]


def test_overlap_and_gap_in_one_table_are_both_reported() -> None:
    text = HEAD + (
        '[tou]\nperiods = { a = "1" }\n'
        'weekday = [["00:00","10:00","a"], ["09:00","12:00","a"], ["13:00","24:00","a"]]\n'
    )
    problems = problems_of(text)
    assert len(problems) == 2
    assert "overlap at 09:00-10:00" in problems[0]
    assert "nothing covers 12:00-13:00" in problems[1]


@pytest.mark.parametrize(
    ("band", "words"),
    [
        ('["08:00","25:00","peak"]', "not a time of day"),
        ('["8:00","11:00","peak"]', "not a time"),
        ('["08:60","11:00","peak"]', "not a time of day"),
        ('["24:00","11:00","peak"]', "can only end a band"),
        ('["11:00","08:00","peak"]', "a band ends after it starts"),
        ('["08:00","11:00"]', "expected a band"),
        ('["08:00", 11, "peak"]', "expected a time as text"),
    ],
)
def test_bad_band_times_are_named(band: str, words: str) -> None:
    text = HEAD + TOU.replace('["08:00","11:00","peak"]', band)
    problems = problems_of(text)
    assert any(p.startswith("t.toml: tou.weekday[2]") and words in p for p in problems), problems


def test_an_unknown_period_is_named_with_the_known_ones() -> None:
    text = HEAD + TOU.replace('["08:00","11:00","peak"]', '["08:00","11:00","peek"]')
    assert only_problem(text) == (
        "t.toml: tou.weekday[2] period: unknown period 'peek'; tou.periods has flat, peak, valley."
    )


def test_unknown_periods_are_found_in_every_table_and_season() -> None:
    text = (
        HEAD
        + TOU
        + (
            'weekend = [["00:00","24:00","sharp"]]\n'
            '[[tou.season]]\nfrom = "07-01"\nto = "08-31"\nholiday = [["00:00","24:00","deep"]]\n'
        )
    )
    problems = problems_of(text)
    assert [p.split(": ")[1] for p in problems] == [
        "tou.weekend[1] period",
        "tou.season[1].holiday[1] period",
    ]


def test_too_many_periods() -> None:
    text = HEAD + (
        '[tou]\nperiods = { a = "1", b = "1", c = "1", d = "1", e = "1", f = "1" }\n'
        'weekday = [["00:00","24:00","a"]]\n'
    )
    assert "at most 5" in only_problem(text)


@pytest.mark.parametrize(
    ("season", "place", "words"),
    [
        ('from = "7-1"\nto = "08-31"', "tou.season[1].from", "not a month-day"),
        ('from = "07-01"\nto = "02-30"', "tou.season[1].to", "not a day of the year"),
        ('from = "13-01"\nto = "08-31"', "tou.season[1].from", "not a day of the year"),
        ('from = 2026-07-01\nto = "08-31"', "tou.season[1].from", "expected a month-day"),
        ('to = "08-31"', "tou.season[1].from", "missing"),
    ],
)
def test_bad_season_dates(season: str, place: str, words: str) -> None:
    text = HEAD + TOU + f'[[tou.season]]\n{season}\nweekday = [["00:00","24:00","flat"]]\n'
    message = only_problem(text)
    assert message.startswith(f"t.toml: {place}: ")
    assert words in message


def test_a_season_without_tables_and_overlapping_seasons() -> None:
    empty = HEAD + TOU + '[[tou.season]]\nfrom = "07-01"\nto = "08-31"\n'
    assert "gives no day table" in only_problem(empty)
    table = 'weekday = [["00:00","24:00","flat"]]\n'
    overlapping = (
        HEAD
        + TOU
        + (
            f'[[tou.season]]\nname = "summer"\nfrom = "07-01"\nto = "08-31"\n{table}'
            f'[[tou.season]]\nname = "late"\nfrom = "08-15"\nto = "09-30"\n{table}'
        )
    )
    message = only_problem(overlapping)
    assert message.startswith("t.toml: tou.season[2]: season 'late' overlaps season 'summer'")
    assert "08-15" in message


def test_bad_holiday_dates() -> None:
    text = HEAD + TOU + 'holidays = ["2026-10-01", 2026-10-02, 2026-10-03T00:00:00]\n'
    problems = problems_of(text)
    assert [p.split(": ")[1] for p in problems] == ["tou.holidays[1]", "tou.holidays[3]"]
    assert "(no quotes)" in problems[0]


@pytest.mark.parametrize(
    ("steps", "place", "words"),
    [
        (
            '[{ upto = "400", value = "0" }, { upto = "240", value = "0.05" }, { value = "0.3" }]',
            "tiers.steps[2].upto",
            "not above the previous step's 400",
        ),
        (
            '[{ upto = "240", value = "0" }, { upto = "240", value = "0.05" }, { value = "0.3" }]',
            "tiers.steps[2].upto",
            "steps must rise",
        ),
        (
            '[{ upto = "240", value = "0" }, { value = "0.05" }, { value = "0.3" }]',
            "tiers.steps[2]",
            "only the last step may leave it out",
        ),
        (
            '[{ upto = "240", value = "0" }, { upto = "400", value = "0.3" }]',
            "tiers.steps[2].upto",
            "the last step must leave out upto",
        ),
        ('[{ upto = "0", value = "0" }, { value = "0.3" }]', "tiers.steps[1].upto", "zero"),
        ('[{ upto = "240" }, { value = "0.3" }]', "tiers.steps[1].value", "missing"),
        (
            '[{ upto = "240", value = "0", price = "1" }, { value = "0.3" }]',
            "tiers.steps[1].price",
            "unknown key",
        ),
        ("[]", "tiers.steps", "got no steps"),
    ],
)
def test_bad_steps(steps: str, place: str, words: str) -> None:
    text = HEAD + 'price = "0.5"\n' + TIERS[: TIERS.index("steps")] + f"steps = {steps}\n"
    message = only_problem(text)
    assert message.startswith(f"t.toml: {place}: ")
    assert words in message


@pytest.mark.parametrize(
    ("old", "new", "place"),
    [
        ('cycle = "month"', 'cycle = "quarter"', "tiers.cycle"),
        ('mode = "graduated"', 'mode = "all-units"', "tiers.mode"),
        ('basis = "surcharge"', 'basis = "add"', "tiers.basis"),
        ('cycle = "month"\n', "", "tiers.cycle"),
    ],
)
def test_bad_tier_choices(old: str, new: str, place: str) -> None:
    text = HEAD + 'price = "0.5"\n' + TIERS.replace(old, new)
    assert only_problem(text).startswith(f"t.toml: {place}: ")


def test_price_missing_without_tou_or_price_basis_tiers() -> None:
    assert only_problem(HEAD).startswith("t.toml: price: missing")
    assert only_problem(HEAD + TIERS).startswith("t.toml: price: missing")  # surcharge on what?
    parse_tariff(HEAD + TIERS.replace('"surcharge"', '"price"'))  # the steps are the price
    parse_tariff(HEAD + TOU)


def test_price_given_twice_is_refused() -> None:
    assert "both price and [tou]" in only_problem(HEAD + 'price = "0.5"\n' + TOU)
    text = HEAD + 'price = "0.5"\n' + TIERS.replace('"surcharge"', '"price"')
    assert "unused" in only_problem(text)


@pytest.mark.parametrize(
    ("extra", "place"),
    [
        ('pric = "0.5"', "pric"),
        (
            '[tou]\nperiods = { a = "1" }\nweekday = [["00:00","24:00","a"]]\nweekends = []',
            "tou.weekends",
        ),
        ('[allowance]\nquantity = "1"\ncycle = "month"\nterm = "spring"', "allowance.term"),
        ('[[fees]]\nname = "x"\namount = "1"\nevery = "month"\nvat = "0.1"', "fees[1].vat"),
    ],
)
def test_unknown_keys_are_named(extra: str, place: str) -> None:
    base = HEAD if extra.startswith(("pric", "[tou]")) else HEAD + 'price = "0.5"\n'
    problems = problems_of(base + extra + "\n")
    assert any(p.startswith(f"t.toml: {place}: unknown key") for p in problems), problems


def test_an_unknown_key_suggests_the_close_one() -> None:
    problems = problems_of(HEAD + 'pric = "0.5"\n')
    assert "Did you mean 'price'?" in problems[0]


@pytest.mark.parametrize(
    ("extra", "place", "words"),
    [
        ('tou = "peak"', "tou", "expected a table"),
        (
            '[tiers]\ncycle = "month"\nmode = "graduated"\nbasis = "price"\nsteps = "1"',
            "tiers.steps",
            "got text",
        ),
        ('[allowance]\nquantity = "1"\ncycle = 3', "allowance.cycle", "a whole number"),
        ('[fees]\nname = "x"', "fees", "expected one or more [[fees]] tables"),
        ('[[fees]]\nname = 5\namount = "1"\nevery = "month"', "fees[1].name", "expected a name"),
        ('[[fees]]\nname = "x"\namount = "1"\nevery = "year"', "fees[1].every", '"week", "month"'),
        ('[[fees]]\nname = "x"\nevery = "month"', "fees[1].amount", "missing"),
    ],
)
def test_wrong_types_and_missing_keys(extra: str, place: str, words: str) -> None:
    problems = problems_of(HEAD + 'price = "0.5"\n' + extra + "\n")
    assert any(p.startswith(f"t.toml: {place}: ") and words in p for p in problems), problems


def test_header_mistakes_use_the_header_checks() -> None:
    text = HEAD.replace("2026-09-01", '"2026-09-01"') + 'price = "0.5"\n'
    assert "'effective_from' must be a date" in only_problem(text)


def test_not_toml_is_one_mistake() -> None:
    assert only_problem('name = "x').startswith("t.toml: not valid TOML")
