"""Bad input to the pure billing rules ends in a message, never a crash or a wrong value: amounts
past what the database holds, numbers with thousands of digits, tariff prices too long to
multiply exactly, TOML nested past Python's recursion limit, a byte-order mark, a NUL in a
tariff name, a date before the calendar MeterDesk works in."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from app.billing.load_guard_file import LoadGuardFileError, parse_load_guard
from app.billing.money import Money, MoneyError, parse_decimal
from app.billing.policy_file import PolicyFileError, parse_policy
from app.billing.tariff import TariffFileError, parse_tariff
from app.billing.tariff_header import read_tariff_header
from app.input_limits import MAX_DECIMAL_DIGITS, MAX_MONEY_MINOR, MAX_TOML_NESTING

TARIFFS = Path(__file__).resolve().parents[3] / "resources" / "tariffs"
FLAT = """\
name = "Flat"
utility = "electricity"
unit = "kWh"
currency = "CNY"
effective_from = 2026-09-01
price = "0.5800"
"""
DEEP = "x = " + "[" * 5000 + "]" * 5000 + "\n"  # tomllib recurses once per level: a crash


def test_money_takes_the_largest_amount_and_refuses_one_unit_more() -> None:
    largest = Money(MAX_MONEY_MINOR, "CNY")
    assert Money.parse(str(largest), "CNY") == largest
    assert Money.parse(f"-{largest}", "CNY") == -largest
    with pytest.raises(MoneyError, match="more than MeterDesk can hold"):
        Money.parse("10000000000000.01", "CNY")


@pytest.mark.parametrize("digits", [MAX_DECIMAL_DIGITS + 1, 400, 5000])
def test_a_number_with_too_many_digits_is_refused_in_a_short_message(digits: int) -> None:
    with pytest.raises(MoneyError, match="too long a number") as caught:
        parse_decimal("9" * digits)
    assert len(str(caught.value)) < 200  # the digits are not repeated back


def test_a_tariff_file_written_by_windows_notepad_reads(tmp_path: Path) -> None:
    text = "\ufeff" + (TARIFFS / "dorm-electricity.toml").read_text(encoding="utf-8")
    assert parse_tariff(text, "notepad.toml").name == "Dormitory electricity"
    assert read_tariff_header(text, "notepad.toml").name == "Dormitory electricity"


def test_a_tariff_nested_past_the_limit_is_refused_not_recursed_into() -> None:
    with pytest.raises(TariffFileError) as caught:
        parse_tariff(FLAT + DEEP, "deep.toml")
    assert caught.value.problems == (
        f"deep.toml: its lists and tables nest 5000 deep, more than the {MAX_TOML_NESTING} "
        "MeterDesk reads; this is not a tariff file: give the right one.",
    )


def test_a_policy_and_load_guard_file_nested_past_the_limit_are_refused() -> None:
    with pytest.raises(PolicyFileError) as policy:
        parse_policy(DEEP, "deep.toml", "CNY")
    with pytest.raises(LoadGuardFileError) as guard:
        parse_load_guard(DEEP, "deep.toml")
    for caught in (policy, guard):
        assert caught.value.lines() == [
            f"deep.toml: its lists and tables nest 5000 deep, more than the {MAX_TOML_NESTING} "
            "MeterDesk reads; this is not a MeterDesk file: give the right one."
        ]


@pytest.mark.parametrize(
    "price", ["12345678901234567890", "1234567890.5", "0." + "1" * 5000, "9" * 5000]
)
def test_a_price_too_long_to_price_exactly_is_refused(price: str) -> None:
    with pytest.raises(TariffFileError) as caught:
        parse_tariff(FLAT.replace('"0.5800"', f'"{price}"'), "long.toml")
    (problem,) = caught.value.problems
    assert problem.startswith("long.toml: price: ")
    assert problem.endswith(
        "is too long a number; a price has at most 9 digits before the point and 18 in all."
    )
    assert len(problem) < 200


def test_a_long_price_within_the_limits_is_exact() -> None:
    tariff = parse_tariff(FLAT.replace('"0.5800"', '"999999999.123456789"'), "ok.toml")
    assert tariff.price == Decimal("999999999.123456789")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        (
            "Dorm\\u0000",
            "ok.toml: 'name' holds the control character U+0000; give a name of plain "
            "letters, digits and punctuation.",
        ),
        (
            "x" * 121,
            "ok.toml: 'name' has 121 characters; give a name of at most 120.",
        ),
    ],
)
def test_a_tariff_name_postgresql_cannot_store_is_refused(name: str, problem: str) -> None:
    with pytest.raises(TariffFileError) as caught:
        parse_tariff(FLAT.replace('"Flat"', f'"{name}"'), "ok.toml")
    assert caught.value.problems == (problem,)


def test_a_tariff_from_before_the_calendar_is_refused() -> None:
    with pytest.raises(TariffFileError) as caught:
        parse_tariff(FLAT.replace("2026-09-01", "0001-01-01"), "old.toml")
    assert caught.value.problems == (
        "old.toml: 'effective_from' 0001-01-01 is out of range; give a date from 1970-01-01 "
        "to 2999-12-31.",
    )
