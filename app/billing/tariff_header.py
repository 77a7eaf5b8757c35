"""The identifying head of a tariff file (DOMAIN.md section 2): name, utility, unit, currency and
effective date. The full rules (bands, tiers, fees) are read by the rating code."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime

from app.billing.money import MINOR_UNITS

UTILITY_UNITS = {"electricity": {"kWh"}, "water": {"m3"}, "gas": {"m3"}}


class TariffFileError(ValueError):
    """A tariff file that cannot be used; the message names the place and what is wrong."""


@dataclass(frozen=True)
class TariffHeader:
    name: str
    utility: str
    unit: str
    currency: str
    effective_from: date


def read_tariff_header(text: str, source: str = "tariff") -> TariffHeader:
    """Parse and check the top-level keys every tariff file must have."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TariffFileError(f"{source}: not valid TOML ({exc}).") from None
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise TariffFileError(f"{source}: 'name' is missing; give the tariff a name.")
    utility = data.get("utility")
    if not isinstance(utility, str) or utility not in UTILITY_UNITS:
        raise TariffFileError(f"{source}: 'utility' is {utility!r}; use electricity, water or gas.")
    unit = data.get("unit")
    if not isinstance(unit, str) or unit not in UTILITY_UNITS[utility]:
        allowed = " or ".join(sorted(UTILITY_UNITS[utility]))
        raise TariffFileError(f"{source}: 'unit' is {unit!r}; {utility} is billed in {allowed}.")
    currency = data.get("currency")
    if not isinstance(currency, str) or currency not in MINOR_UNITS:
        raise TariffFileError(f"{source}: 'currency' {currency!r} is not a known ISO 4217 code.")
    effective = data.get("effective_from")
    if not isinstance(effective, date) or isinstance(effective, datetime):  # a day, not a time
        raise TariffFileError(
            f"{source}: 'effective_from' must be a date written like 2026-09-01 (no quotes)."
        )
    return TariffHeader(name.strip(), utility, unit, currency, effective)
