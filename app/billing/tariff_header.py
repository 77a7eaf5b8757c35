"""The identifying head of a tariff file (DOMAIN.md section 2): name, utility, unit, currency and
effective date. The full rules (bands, tiers, allowance, fees) are read by ``app.billing.tariff``,
which reuses the checks here so a file's mistakes are all reported together."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from app.billing.money import MINOR_UNITS
from app.input_limits import (
    MAX_NAME_CHARS,
    MAX_TOML_NESTING,
    control_character,
    date_in_range,
    date_range_text,
    too_deep,
)

UTILITY_UNITS = {"electricity": {"kWh"}, "water": {"m3"}, "gas": {"m3"}}
HEADER_KEYS = ("name", "utility", "unit", "currency", "effective_from")


class TariffFileError(ValueError):
    """A tariff file that cannot be used; the message names the place and what is wrong.

    ``problems`` holds every mistake found, one line each, in the order of the file; the message
    is those lines joined.
    """

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems: tuple[str, ...] = problems


@dataclass(frozen=True)
class TariffHeader:
    name: str
    utility: str
    unit: str
    currency: str
    effective_from: date


def load_toml(text: str, source: str) -> dict[str, Any]:
    """The TOML document of a tariff file (a leading byte-order mark, as Windows Notepad writes,
    is ignored); a syntax error or nesting past ``MAX_TOML_NESTING`` is a ``TariffFileError``."""
    text = text.removeprefix("\ufeff")
    deep = too_deep(text)
    if deep is not None:
        raise TariffFileError(
            f"{source}: its lists and tables nest {deep} deep, more than the "
            f"{MAX_TOML_NESTING} MeterDesk reads; this is not a tariff file: give the right one."
        )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TariffFileError(f"{source}: not valid TOML ({exc}).") from None


def check_header(data: Mapping[str, object], source: str) -> tuple[TariffHeader | None, list[str]]:
    """The header of a parsed tariff file and every mistake in it (the header is None if any)."""
    problems: list[str] = []
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{source}: 'name' is missing; give the tariff a name.")
    elif len(name.strip()) > MAX_NAME_CHARS:
        problems.append(
            f"{source}: 'name' has {len(name.strip())} characters; give a name of at most "
            f"{MAX_NAME_CHARS}."
        )
    elif (control := control_character(name)) is not None:
        problems.append(
            f"{source}: 'name' holds the control character {control}; give a name of plain "
            "letters, digits and punctuation."
        )
    utility = data.get("utility")
    if not isinstance(utility, str) or utility not in UTILITY_UNITS:
        problems.append(f"{source}: 'utility' is {utility!r}; use electricity, water or gas.")
    unit = data.get("unit")
    if isinstance(utility, str) and utility in UTILITY_UNITS:
        if not isinstance(unit, str) or unit not in UTILITY_UNITS[utility]:
            allowed = " or ".join(sorted(UTILITY_UNITS[utility]))
            problems.append(f"{source}: 'unit' is {unit!r}; {utility} is billed in {allowed}.")
    elif not isinstance(unit, str) or not any(unit in units for units in UTILITY_UNITS.values()):
        problems.append(f"{source}: 'unit' is {unit!r}; use kWh (electricity) or m3 (water, gas).")
    currency = data.get("currency")
    if not isinstance(currency, str) or currency not in MINOR_UNITS:
        problems.append(f"{source}: 'currency' {currency!r} is not a known ISO 4217 code.")
    effective = data.get("effective_from")
    if not isinstance(effective, date) or isinstance(effective, datetime):  # a day, not a time
        problems.append(
            f"{source}: 'effective_from' must be a date written like 2026-09-01 (no quotes)."
        )
    elif not date_in_range(effective):
        problems.append(
            f"{source}: 'effective_from' {effective.isoformat()} is out of range; give a date "
            f"{date_range_text()}."
        )
    if problems:
        return None, problems
    assert isinstance(name, str)
    assert isinstance(utility, str)
    assert isinstance(unit, str)
    assert isinstance(currency, str)
    assert isinstance(effective, date)
    return TariffHeader(name.strip(), utility, unit, currency, effective), []


def read_tariff_header(text: str, source: str = "tariff") -> TariffHeader:
    """Parse and check the top-level keys every tariff file must have."""
    header, problems = check_header(load_toml(text, source), source)
    if header is None:
        raise TariffFileError(*problems)
    return header
