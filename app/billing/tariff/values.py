"""Readers of the single values of a tariff file: exact decimals, times of day, month-days,
choices and tables with known keys. Each reports a mistake to a ``Problems`` list (place and a
plain explanation) and returns None instead of raising, so a file's mistakes are all found."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, TypeVar

from app.billing.file_problems import closest_key
from app.billing.tariff.model import MINUTES_PER_DAY, MonthDay
from app.input_limits import MAX_DECIMAL_DIGITS, MAX_INTEGER_DIGITS, decimal_digits

T = TypeVar("T", bound=str)

_DECIMAL = re.compile(r"[+-]?\d+(\.\d+)?")
_TIME = re.compile(r"(\d\d):(\d\d)")
_MONTH_DAY = re.compile(r"(\d\d)-(\d\d)")
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 02-29 exists in leap years


def describe(value: object) -> str:
    """What a TOML value is, in words, for messages."""
    if isinstance(value, bool):
        return f"true/false ({str(value).lower()})"
    if isinstance(value, int):
        return f"a whole number ({value})"
    if isinstance(value, float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, datetime):
        return f"a date and time ({value.isoformat()})"
    if isinstance(value, date):
        return f"a date ({value.isoformat()})"
    if isinstance(value, time):
        return f"a time ({value.isoformat()})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def clock(minutes: int) -> str:
    """Minutes after midnight as HH:MM (1440 is 24:00)."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class Problems:
    """Mistakes found in one file, each ``SOURCE: PLACE: what is wrong and what to do.``"""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []

    def add(self, place: str, message: str) -> None:
        self.lines.append(f"{self.source}: {place}: {message}")

    def extend(self, lines: Sequence[str]) -> None:
        self.lines.extend(lines)

    # -- values -----------------------------------------------------------------------------

    def decimal(
        self, value: object, place: str, *, what: str = "price", positive: bool = False
    ) -> Decimal | None:
        """An exact decimal written as text, e.g. "0.5800"; never negative (nor 0 if positive)."""
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.add(place, f'expected the {what} as text like "0.5800", got {describe(value)}.')
            return None
        if not isinstance(value, str):
            self.add(
                place,
                f'{value!r} is a bare number; write it in quotes, "{value}", so the {what} '
                "stays exact (amounts and quantities are text in tariff files).",
            )
            return None
        text = value.strip()
        if not _DECIMAL.fullmatch(text):
            self.add(place, f'{value!r} is not a plain decimal number; write it like "0.5800".')
            return None
        digits, whole_digits = decimal_digits(text)
        if digits > MAX_DECIMAL_DIGITS or whole_digits > MAX_INTEGER_DIGITS:
            shown = text if len(text) <= 24 else f"{text[:20]}... ({digits} digits)"
            self.add(
                place,
                f"{shown} is too long a number; a {what} has at most {MAX_INTEGER_DIGITS} "
                f"digits before the point and {MAX_DECIMAL_DIGITS} in all.",
            )
            return None
        number = Decimal(text)
        if number < 0:
            self.add(place, f"{value!r} is negative; a {what} cannot be below zero.")
            return None
        if positive and number == 0:
            self.add(place, f"{value!r} is zero; a {what} must be above zero.")
            return None
        return number

    def text(self, value: object, place: str, *, what: str = "name") -> str | None:
        if not isinstance(value, str) or not value.strip():
            got = "empty text" if isinstance(value, str) else describe(value)
            self.add(place, f"expected a {what} as text, got {got}.")
            return None
        return value.strip()

    def choice(self, value: object, place: str, allowed: Sequence[T]) -> T | None:
        for option in allowed:
            if value == option:
                return option
        options = ", ".join(f'"{option}"' for option in allowed)
        self.add(place, f"{describe(value)} is not one of {options}.")
        return None

    def time_of_day(self, value: object, place: str, *, end: bool) -> int | None:
        """Minutes after midnight from "HH:MM"; "24:00" only as the end of a band."""
        if not isinstance(value, str):
            self.add(place, f'expected a time as text like "08:00", got {describe(value)}.')
            return None
        match = _TIME.fullmatch(value.strip())
        if match is None:
            self.add(place, f'{value!r} is not a time; write it as "HH:MM", like "08:00".')
            return None
        hours, minutes = int(match[1]), int(match[2])
        total = hours * 60 + minutes
        if minutes > 59 or total > MINUTES_PER_DAY:
            self.add(place, f"{value!r} is not a time of day (00:00 to 24:00).")
            return None
        if total == MINUTES_PER_DAY and not end:
            self.add(
                place, f'{value!r} can only end a band; a band starting at midnight is "00:00".'
            )
            return None
        if total == 0 and end:
            self.add(place, f'{value!r} cannot end a band; the end of the day is "24:00".')
            return None
        return total

    def month_day(self, value: object, place: str) -> MonthDay | None:
        if not isinstance(value, str):
            self.add(place, f'expected a month-day as text like "07-01", got {describe(value)}.')
            return None
        match = _MONTH_DAY.fullmatch(value.strip())
        if match is None:
            self.add(place, f'{value!r} is not a month-day; write it as "MM-DD", like "07-01".')
            return None
        month, day = int(match[1]), int(match[2])
        if not 1 <= month <= 12 or not 1 <= day <= _DAYS_IN_MONTH[month - 1]:
            self.add(place, f"{value!r} is not a day of the year.")
            return None
        return MonthDay(month, day)

    def date_value(self, value: object, place: str) -> date | None:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        hint = " (no quotes)" if isinstance(value, str) else ""
        self.add(place, f"expected a date written like 2026-10-01{hint}, got {describe(value)}.")
        return None

    # -- structure --------------------------------------------------------------------------

    def table(self, value: object, place: str, allowed: Sequence[str]) -> dict[str, Any] | None:
        """A TOML table; its unknown keys are reported (with a suggestion)."""
        if not isinstance(value, dict):
            self.add(place, f"expected a table, got {describe(value)}.")
            return None
        for key in value:
            if key not in allowed:
                self.unknown_key(f"{place}.{key}" if place else key, key, allowed)
        return value

    def unknown_key(self, place: str, key: str, allowed: Sequence[str]) -> None:
        suggestion = closest_key(key, allowed)
        hint = f" Did you mean '{suggestion}'?" if suggestion is not None else ""
        self.add(place, f"unknown key; expected one of {', '.join(allowed)}.{hint}")

    def required(self, table: dict[str, Any], key: str, place: str, example: str) -> object:
        """``table[key]``, or None after reporting that it is missing."""
        if key not in table:
            self.add(f"{place}.{key}" if place else key, f"missing; write {key} = {example}.")
            return None
        return table[key]

    def table_list(self, value: object, place: str, header: str) -> list[object]:
        """An array of tables such as ``[[fees]]``."""
        if isinstance(value, list):
            return list(value)
        self.add(place, f"expected one or more [[{header}]] tables, got {describe(value)}.")
        return []
