"""A tariff version as typed, frozen data (DOMAIN.md section 2).

Prices, amounts and quantities are exact ``Decimal``; times of day are minutes after midnight
(0-1440, a band's end exclusive); dates are site-local. ``parse_tariff`` builds these from the
TOML file and guarantees the invariants stated on each class.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

Cycle = Literal["day", "week", "month", "year"]
FeeCycle = Literal["week", "month"]
TierMode = Literal["graduated", "all_units"]
TierBasis = Literal["surcharge", "price"]
DayType = Literal["weekday", "weekend", "holiday"]

CYCLES: tuple[Cycle, ...] = ("day", "week", "month", "year")
FEE_CYCLES: tuple[FeeCycle, ...] = ("week", "month")
TIER_MODES: tuple[TierMode, ...] = ("graduated", "all_units")
TIER_BASES: tuple[TierBasis, ...] = ("surcharge", "price")
DAY_TYPES: tuple[DayType, ...] = ("weekday", "weekend", "holiday")
MINUTES_PER_DAY = 1440
MAX_PERIODS = 5


@dataclass(frozen=True, slots=True)
class Band:
    """Minutes ``start`` (inclusive) to ``end`` (exclusive) of a day belong to ``period``."""

    start: int
    end: int
    period: str


# A day table: bands in time order covering 0-1440 exactly, no gap, no overlap.
DayTable = tuple[Band, ...]


@dataclass(frozen=True, slots=True)
class MonthDay:
    """A day of any year, e.g. 07-01; 02-29 is allowed (it only exists in leap years)."""

    month: int
    day: int

    def key(self) -> tuple[int, int]:
        return (self.month, self.day)

    def __str__(self) -> str:
        return f"{self.month:02d}-{self.day:02d}"


@dataclass(frozen=True, slots=True)
class Season:
    """Dates ``first``..``last`` (inclusive, every year; may wrap past 12-31) use these tables.

    A table left out (None) is the base table of that day type: a season overrides only the
    day types it names.
    """

    name: str
    first: MonthDay
    last: MonthDay
    weekday: DayTable | None
    weekend: DayTable | None
    holiday: DayTable | None

    def contains(self, day: date) -> bool:
        key = (day.month, day.day)
        first, last = self.first.key(), self.last.key()
        if first <= last:
            return first <= key <= last
        return key >= first or key <= last  # wraps past the new year, e.g. 11-01..02-28

    def table(self, day_type: DayType) -> DayTable | None:
        return {"weekday": self.weekday, "weekend": self.weekend, "holiday": self.holiday}[day_type]


@dataclass(frozen=True, slots=True)
class TimeOfUse:
    """Periods with prices (in the file's order) and the day tables that map times to them.

    ``weekend`` None means as weekday; ``holiday`` None means as weekend. Every band names a
    period of ``periods``; seasons do not overlap.
    """

    periods: tuple[tuple[str, Decimal], ...]
    weekday: DayTable
    weekend: DayTable | None
    holiday: DayTable | None
    holidays: frozenset[date]
    seasons: tuple[Season, ...]

    def price_of(self, period: str) -> Decimal:
        for name, price in self.periods:
            if name == period:
                return price
        raise KeyError(period)

    def period_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.periods)

    def day_type(self, day: date) -> DayType:
        if day in self.holidays:
            return "holiday"
        return "weekend" if day.weekday() >= 5 else "weekday"

    def base_table(self, day_type: DayType) -> DayTable:
        if day_type == "holiday" and self.holiday is not None:
            return self.holiday
        if day_type in ("holiday", "weekend") and self.weekend is not None:
            return self.weekend
        return self.weekday

    def table_for(self, day: date) -> DayTable:
        """The bands that apply on ``day``: its season's table for its day type, else the base."""
        day_type = self.day_type(day)
        for season in self.seasons:
            if season.contains(day):
                table = season.table(day_type)
                if table is not None:
                    return table
                break
        return self.base_table(day_type)


@dataclass(frozen=True, slots=True)
class TierStep:
    """Units of the cycle up to ``upto`` (None: no limit, the last step) cost ``value``."""

    upto: Decimal | None
    value: Decimal


@dataclass(frozen=True, slots=True)
class Tiers:
    """Block steps within a calendar cycle. ``upto`` rises strictly; only the last is None."""

    cycle: Cycle
    mode: TierMode
    basis: TierBasis
    steps: tuple[TierStep, ...]

    def step_reached(self, total: Decimal) -> int:
        """1-based step that the ``total``-th unit of the cycle falls in (step 1 for 0)."""
        for number, step in enumerate(self.steps, start=1):
            if step.upto is None or total <= step.upto:
                return number
        return len(self.steps)

    def slices(self, position: Decimal, quantity: Decimal) -> list[tuple[int, Decimal]]:
        """How the units ``position``..``position + quantity`` of the cycle fall into steps:
        (1-based step, units) for each step they touch, in order."""
        if quantity <= 0:
            return []
        end = position + quantity
        out: list[tuple[int, Decimal]] = []
        low = Decimal(0)
        for number, step in enumerate(self.steps, start=1):
            high = step.upto
            if high is None or high > position:
                part = (end if high is None else min(end, high)) - max(position, low)
                if part > 0:
                    out.append((number, part))
                if high is None or high >= end:
                    break
            if high is not None:
                low = high
        return out

    def unit_price(self, step: int, base: Decimal) -> Decimal:
        """Price of a unit at ``step`` when the single/TOU price is ``base``."""
        value = self.steps[step - 1].value
        return base + value if self.basis == "surcharge" else value


@dataclass(frozen=True, slots=True)
class Allowance:
    """The first ``quantity`` units of every calendar ``cycle`` are free."""

    quantity: Decimal
    cycle: Cycle


@dataclass(frozen=True, slots=True)
class Fee:
    """A fixed ``amount`` charged once per calendar week or month."""

    name: str
    amount: Decimal
    every: FeeCycle


@dataclass(frozen=True, slots=True)
class Tariff:
    """One version of a tariff: valid from ``effective_from`` until the next version.

    Exactly one of ``price`` and ``tou`` gives the unit price, except with price-basis tiers
    and no TOU, where both are None (the steps are the price).
    """

    name: str
    utility: str
    unit: str
    currency: str
    effective_from: date
    price: Decimal | None
    tou: TimeOfUse | None
    tiers: Tiers | None
    allowance: Allowance | None
    fees: tuple[Fee, ...]

    def base_price(self, period: str | None) -> Decimal:
        """The single or TOU price of a unit in ``period`` (0 when price-basis tiers set it)."""
        if self.tou is not None and period is not None:
            return self.tou.price_of(period)
        return self.price if self.price is not None else Decimal(0)

    def period_order(self, period: str | None) -> int:
        """Sort key of a period: its place in the periods table (no period first)."""
        if period is None or self.tou is None:
            return -1
        names = self.tou.period_names()
        return names.index(period) if period in names else len(names)

    @property
    def kinds(self) -> tuple[str, ...]:
        """What the tariff combines, in words: single rate, time of use, tiers, allowance, fees."""
        out: list[str] = []
        if self.price is not None:
            out.append("single rate")
        if self.tou is not None:
            periods = ", ".join(self.tou.period_names())
            seasons = len(self.tou.seasons)
            extra = f"; {seasons} season{'s' if seasons != 1 else ''}" if seasons else ""
            out.append(f"time of use ({periods}{extra})")
        if self.tiers is not None:
            mode = "graduated" if self.tiers.mode == "graduated" else "all-units"
            out.append(
                f"{len(self.tiers.steps)} {mode} tiers per {self.tiers.cycle} "
                f"({'surcharge' if self.tiers.basis == 'surcharge' else 'price'})"
            )
        if self.allowance is not None:
            out.append(f"{self.allowance.quantity} {self.unit} free per {self.allowance.cycle}")
        for fee in self.fees:
            out.append(f"fee '{fee.name}' {fee.amount} per {fee.every}")
        return tuple(out)
