"""Money: exact amounts in integer minor units, parsed from what a person types."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.billing.money import (
    CURRENCY_SYMBOLS,
    MINOR_UNITS,
    Money,
    MoneyError,
    parse_decimal,
    round_to_minor,
)
from app.input_limits import MAX_MONEY_MINOR

# Money columns are BIGINT: every amount the store can hold.
BIGINT = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# Every amount a person may type: up to MAX_MONEY_MINOR (app.input_limits), well inside BIGINT.
TYPED = st.integers(min_value=-MAX_MONEY_MINOR, max_value=MAX_MONEY_MINOR)
CURRENCIES = st.sampled_from(sorted(MINOR_UNITS))


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("50", 5000),
        ("12.50", 1250),
        ("12.5", 1250),
        ("0.05", 5),
        (".5", 50),
        ("12.", 1200),
        ("-3.20", -320),
        ("+7", 700),
        ("  42.10\t", 4210),
        ("1,234.50", 123450),
        ("1,234,567", 123456700),
        ("-1,000.01", -100001),
        ("0", 0),
        ("-0.00", 0),
    ],
)
def test_parse_accepts_plain_amounts(text: str, minor: int) -> None:
    assert Money.parse(text) == Money(minor, "CNY")


@pytest.mark.parametrize(("text", "minor"), [("1234", 1234), ("1,234", 1234), ("-5", -5)])
def test_parse_in_a_currency_without_decimals(text: str, minor: int) -> None:
    assert Money.parse(text, "JPY") == Money(minor, "JPY")


def test_parse_refuses_more_decimals_than_the_currency_has() -> None:
    with pytest.raises(MoneyError, match="more than 2 decimal places") as info:
        Money.parse("12.345")
    assert "'12.345'" in str(info.value)
    with pytest.raises(MoneyError, match="more than 2 decimal places"):
        Money.parse("12.500")  # exact, but typed with a third decimal
    with pytest.raises(MoneyError, match="more than 0 decimal places"):
        Money.parse("100.5", "JPY")


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_parse_refuses_empty_text(text: str) -> None:
    with pytest.raises(MoneyError, match="empty"):
        Money.parse(text)


@pytest.mark.parametrize("text", ["1e3", "1E3", "2.5e-1", "1e+2"])
def test_parse_refuses_exponents(text: str) -> None:
    with pytest.raises(MoneyError, match="not a plain number"):
        Money.parse(text)


@pytest.mark.parametrize("text", ["NaN", "nan", "Infinity", "-inf", "sNaN"])
def test_parse_refuses_non_finite_values(text: str) -> None:
    with pytest.raises(MoneyError):
        Money.parse(text)


@pytest.mark.parametrize("text", ["abc", "12.3.4", "¥12", "12 50", "--5", "5-", "0x10", "1_000"])
def test_parse_refuses_text_that_is_not_a_number(text: str) -> None:
    with pytest.raises(MoneyError, match="number"):
        Money.parse(text)


@pytest.mark.parametrize("text", ["12,50", "1,2,3", "1,23", "1234,567", ",100", "100,", "1,234,56"])
def test_parse_refuses_misplaced_thousands_separators(text: str) -> None:
    """'12,50' typed with a decimal comma must not become 1,250.00."""
    with pytest.raises(MoneyError, match="separator"):
        Money.parse(text)


def test_parse_refuses_an_unknown_currency_and_lists_the_known_ones() -> None:
    with pytest.raises(MoneyError, match="Unknown currency 'XYZ'") as info:
        Money.parse("1", "XYZ")
    assert "CNY" in str(info.value)


def test_parse_decimal_names_what_is_empty() -> None:
    with pytest.raises(MoneyError, match="The price is empty"):
        parse_decimal("", "price")
    assert parse_decimal("0.5800") == Decimal("0.5800")


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(0), "0.00"),
        (Money(5), "0.05"),
        (Money(-5), "-0.05"),
        (Money(1250), "12.50"),
        (Money(-123450), "-1234.50"),
        (Money(1234, "JPY"), "1234"),
        (Money(-7, "VND"), "-7"),
    ],
)
def test_str_is_a_plain_decimal_with_the_currency_decimals(money: Money, text: str) -> None:
    assert str(money) == text


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(123450), "¥1,234.50"),
        (Money(-123450), "-¥1,234.50"),
        (Money(5), "¥0.05"),
        (Money(123456789, "USD"), "$1,234,567.89"),
        (Money(-1000, "EUR"), "-€10.00"),
        (Money(1234567, "JPY"), "¥1,234,567"),
        (Money(99, "THB"), "THB 0.99"),
    ],
)
def test_display_has_symbol_sign_and_thousands_separators(money: Money, text: str) -> None:
    assert money.display() == text


def test_amount_is_the_exact_decimal() -> None:
    assert Money(1250).amount == Decimal("12.50")
    assert Money(-1, "USD").amount == Decimal("-0.01")
    assert Money(3, "JPY").amount == Decimal(3)


def test_arithmetic_in_one_currency() -> None:
    assert Money(1250) + Money(75) == Money(1325)
    assert Money(1250) - Money(2000) == Money(-750)
    assert -Money(300) == Money(-300)
    assert -Money(-300, "USD") == Money(300, "USD")
    assert Money(1) < Money(2)


@pytest.mark.parametrize("op", ["add", "sub"])
def test_arithmetic_refuses_mixed_currencies(op: str) -> None:
    a, b = Money(100, "CNY"), Money(100, "USD")
    with pytest.raises(MoneyError, match="Cannot combine CNY with USD"):
        a + b if op == "add" else a - b


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("0.005", "CNY", 1),
        ("0.0049999", "CNY", 0),
        ("0.015", "CNY", 2),
        ("2.675", "CNY", 268),  # a float would give 2.67
        ("-0.005", "CNY", -1),  # half away from zero
        ("-0.015", "CNY", -2),
        ("-0.0049", "CNY", 0),
        ("12.345", "USD", 1235),
        ("12.5", "JPY", 13),
        ("-12.5", "JPY", -13),
        ("12.4999", "JPY", 12),
        ("7", "CNY", 700),
    ],
)
def test_round_to_minor_is_half_up_away_from_zero(amount: str, currency: str, minor: int) -> None:
    assert round_to_minor(Decimal(amount), currency) == minor


def test_from_decimal_rounds_with_the_house_rule() -> None:
    assert Money.from_decimal(Decimal("1.005")) == Money(101)
    assert Money.from_decimal(Decimal("-1.005")) == Money(-101)
    assert Money.from_decimal(Decimal("99.5"), "JPY") == Money(100, "JPY")


@given(minor=TYPED, currency=CURRENCIES)
def test_str_parses_back_to_the_same_money(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    assert Money.parse(str(money), currency) == money


@given(minor=TYPED, currency=CURRENCIES)
def test_display_without_its_symbol_parses_back(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
    assert Money.parse(money.display().replace(symbol, "", 1), currency) == money


@given(a=BIGINT, b=BIGINT, currency=CURRENCIES)
def test_addition_matches_integer_addition(a: int, b: int, currency: str) -> None:
    total = Money(a, currency) + Money(b, currency)
    assert total == Money(a + b, currency)
    assert total - Money(b, currency) == Money(a, currency)


@given(minor=st.integers(min_value=-(10**15), max_value=10**15), currency=CURRENCIES)
def test_rounding_an_exact_amount_gives_it_back(minor: int, currency: str) -> None:
    assert round_to_minor(Money(minor, currency).amount, currency) == minor


@given(
    minor=st.integers(min_value=-(10**12), max_value=10**12),
    tenths=st.integers(min_value=0, max_value=9),
)
def test_round_to_minor_rounds_sub_cent_digits_half_up(minor: int, tenths: int) -> None:
    """``minor`` cents plus ``tenths`` of a cent, on either side of zero."""
    sign = -1 if minor < 0 else 1
    exact = Decimal(minor) / 100 + sign * Decimal(tenths) / 1000
    expected = minor + sign * (1 if tenths >= 5 else 0)
    assert round_to_minor(exact, "CNY") == expected
