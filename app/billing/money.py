"""Exact money: integer minor units of one currency, built from strings, never floats.

This module holds the one rounding rule of MeterDesk (half-up to the currency's minor unit,
``round_to_minor``). Everything that turns an exact ``Decimal`` amount into stored cents goes
through it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from app.input_limits import MAX_DECIMAL_DIGITS, MAX_MONEY_MINOR, number_too_long

# ISO 4217 minor units of the currencies a site may bill in. Extend as sites need.
MINOR_UNITS: dict[str, int] = {
    "CNY": 2,
    "HKD": 2,
    "TWD": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "INR": 2,
    "IDR": 2,
    "MYR": 2,
    "PHP": 2,
    "THB": 2,
    "ZAR": 2,
    "NGN": 2,
    "KES": 2,
    "VND": 0,
    "JPY": 0,
    "KRW": 0,
}

CURRENCY_SYMBOLS: dict[str, str] = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


class MoneyError(ValueError):
    """A money amount or currency that cannot be used; the message says what to do."""


def minor_unit_digits(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        known = ", ".join(sorted(MINOR_UNITS))
        raise MoneyError(f"Unknown currency {currency!r}; use one of: {known}.") from None


def round_to_minor(amount: Decimal, currency: str) -> int:
    """The one rounding rule: an exact amount to integer minor units, half-up (away from 0)."""
    digits = minor_unit_digits(currency)
    scaled = (amount * (Decimal(10) ** digits)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(scaled)


# What a person may type: digits, one optional sign and point, and thousands separators only
# between groups of three digits ("12,50" typed with a decimal comma must not become 1250).
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")
_GROUPED_NUMBER = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")


def parse_decimal(text: str, what: str = "amount") -> Decimal:
    """A Decimal from a person's text: digits, one optional sign and point; no exponents.

    Commas are accepted only as thousands separators (``1,234.50``).
    """
    stripped = text.strip()
    if not stripped:
        raise MoneyError(f"The {what} is empty; type a number such as 50 or 12.50.")
    if "," in stripped and not _GROUPED_NUMBER.fullmatch(stripped):
        raise MoneyError(
            f"{stripped!r} has a misplaced thousands separator; "
            "type it like 1,234.50 (a point before the decimals)."
        )
    cleaned = stripped.replace(",", "")
    if number_too_long(cleaned):
        digits = sum(char.isdigit() for char in cleaned)
        shown = stripped if len(stripped) <= 24 else f"{stripped[:20]}..."
        raise MoneyError(
            f"{shown!r} is too long a number ({digits} digits); type at most "
            f"{MAX_DECIMAL_DIGITS} digits, such as 12.50."
        )
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise MoneyError(f"{stripped!r} is not a number; type a number such as 12.50.") from None
    if not value.is_finite() or "e" in cleaned.lower():
        raise MoneyError(f"{stripped!r} is not a plain number; type it like 12.50.")
    if not _PLAIN_NUMBER.fullmatch(cleaned):
        raise MoneyError(f"{stripped!r} is not a number; type a number such as 12.50.")
    return value


@dataclass(frozen=True, order=True, slots=True)
class Money:
    """An exact amount: ``minor`` integer units (cents) of ``currency``."""

    minor: int
    currency: str = "CNY"

    @classmethod
    def parse(cls, text: str, currency: str = "CNY") -> Money:
        """Parse an amount typed by a person; refuses more decimals than the currency has."""
        value = parse_decimal(text)
        digits = minor_unit_digits(currency)
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)
        if -exponent > digits:
            raise MoneyError(
                f"{text.strip()!r} has more than {digits} decimal places; "
                f"{currency} amounts are counted in units of {Decimal(1).scaleb(-digits)}."
            )
        minor = int(value.scaleb(digits))
        if abs(minor) > MAX_MONEY_MINOR:
            largest = Money(MAX_MONEY_MINOR, currency)
            raise MoneyError(
                f"{text.strip()!r} is more than MeterDesk can hold; amounts go up to "
                f"{largest.grouped()} {currency}. Check the amount."
            )
        return cls(minor, currency)

    @classmethod
    def from_decimal(cls, amount: Decimal, currency: str = "CNY") -> Money:
        """Round an exact amount to the minor unit with the house rule."""
        return cls(round_to_minor(amount, currency), currency)

    @property
    def amount(self) -> Decimal:
        return Decimal(self.minor).scaleb(-minor_unit_digits(self.currency))

    def __str__(self) -> str:
        """Plain decimal string with exactly the currency's decimals, e.g. ``-12.50``."""
        digits = minor_unit_digits(self.currency)
        return f"{self.amount:.{digits}f}"

    def display(self) -> str:
        """Human form with symbol and thousands separators, e.g. ``¥1,234.50``."""
        symbol = CURRENCY_SYMBOLS.get(self.currency, self.currency + " ")
        sign = "-" if self.minor < 0 else ""
        return f"{sign}{symbol}{abs(self).grouped()}"

    def grouped(self) -> str:
        """Thousands separators, no symbol, e.g. ``-1,234.50`` (where the currency is named
        beside it, as on a receipt)."""
        digits = minor_unit_digits(self.currency)
        return f"{self.amount:,.{digits}f}"

    def __abs__(self) -> Money:
        return Money(abs(self.minor), self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"Cannot combine {self.currency} with {other.currency}.")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)
