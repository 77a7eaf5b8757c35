"""Tariffs (DOMAIN.md section 2): the typed model of one version, the TOML file parser, and
dated versions with the day plans they give (which period and cycles apply on a day)."""

from app.billing.tariff.model import (
    Allowance,
    Band,
    Cycle,
    DayTable,
    Fee,
    FeeCycle,
    MonthDay,
    Season,
    Tariff,
    TierBasis,
    TierMode,
    Tiers,
    TierStep,
    TimeOfUse,
)
from app.billing.tariff.parse import parse_tariff
from app.billing.tariff.schedule import DayPlan, ScheduleError, TariffSchedule
from app.billing.tariff_header import TariffFileError

__all__ = [
    "Allowance",
    "Band",
    "Cycle",
    "DayPlan",
    "DayTable",
    "Fee",
    "FeeCycle",
    "MonthDay",
    "ScheduleError",
    "Season",
    "Tariff",
    "TariffFileError",
    "TariffSchedule",
    "TierBasis",
    "TierMode",
    "TierStep",
    "Tiers",
    "TimeOfUse",
    "parse_tariff",
]
