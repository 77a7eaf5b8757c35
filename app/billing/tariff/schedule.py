"""Dated tariff versions and the plan each gives for a day: which version is in force, its bands
(minute ranges mapped to TOU periods) and the calendar cycles the day belongs to.

Cycles are calendar cycles starting at midnight: a day, a week from Monday, a month from the
1st, a year from 1 January. A version starts at midnight of its ``effective_from`` day, so
every change of version, day type, season or cycle falls on a midnight, and within a day only
band boundaries split time.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_FLOOR, Context, Decimal, DivisionByZero, InvalidOperation
from itertools import pairwise

from app.billing.tariff.model import MINUTES_PER_DAY, Cycle, Tariff

CycleKey = tuple[Cycle, date]  # the kind of cycle and the day it starts


SPLIT_QUANTUM = Decimal("1e-9")  # finest share of a unit that splitting gives a piece
_SPLIT = Context(prec=80, rounding=ROUND_FLOOR, traps=[InvalidOperation, DivisionByZero])
_US = timedelta(microseconds=1)


class ScheduleError(ValueError):
    """Versions that cannot be used together, or a day no version covers."""


def midnight(day: date) -> datetime:
    """The (naive, site-local) start of ``day``."""
    return datetime.combine(day, time.min)


def cycle_start(cycle: Cycle, day: date) -> date:
    """First day of the calendar ``cycle`` that contains ``day`` (weeks start on Monday)."""
    if cycle == "day":
        return day
    if cycle == "week":
        return day - timedelta(days=day.weekday())
    if cycle == "month":
        return day.replace(day=1)
    return date(day.year, 1, 1)


def next_cycle_start(cycle: Cycle, start: date) -> date:
    """First day of the cycle after the one that starts on ``start``."""
    if cycle == "day":
        return start + timedelta(days=1)
    if cycle == "week":
        return start + timedelta(days=7)
    if cycle == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return date(start.year + 1, 1, 1)


@dataclass(frozen=True, slots=True)
class DayPlan:
    """How one day is priced: the version in force, its bands and the cycles of the day.

    ``starts``/``ends``/``periods`` are the day's bands in time order (one band 0-1440 with no
    period when the version has no TOU).
    """

    day: date
    version: int
    tariff: Tariff
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    periods: tuple[str | None, ...]
    tier_cycle: CycleKey | None
    allowance_cycle: CycleKey | None

    def band_at(self, minute: int) -> int:
        """Index of the band containing ``minute`` after midnight."""
        return bisect_right(self.starts, minute) - 1


class TariffSchedule:
    """The versions of one tariff in date order, each in force from its ``effective_from``
    until the next one's.

    With ``before_first`` the first version also prices the days before its date (a single
    tariff quoted on any usage); otherwise such days are an error. Day plans are memoised, so
    one schedule should be shared by every rater of the tariff.
    """

    def __init__(self, versions: Iterable[Tariff], *, before_first: bool = False) -> None:
        ordered = tuple(sorted(versions, key=lambda t: t.effective_from))
        if not ordered:
            raise ScheduleError("No tariff version given.")
        first = ordered[0]
        for version in ordered[1:]:
            if (version.currency, version.unit) != (first.currency, first.unit):
                raise ScheduleError(
                    f"Version {version.effective_from} bills {version.unit} in "
                    f"{version.currency} but version {first.effective_from} bills {first.unit} in "
                    f"{first.currency}; versions of one tariff must agree."
                )
        for older, newer in pairwise(ordered):
            if older.effective_from == newer.effective_from:
                raise ScheduleError(
                    f"Two versions take effect on {newer.effective_from}; give each its own date."
                )
        self.versions = ordered
        self.currency = first.currency
        self.unit = first.unit
        self.before_first = before_first
        self._dates = [version.effective_from for version in ordered]
        self._plans: dict[date, DayPlan] = {}

    @property
    def effective_dates(self) -> list[date]:
        """``effective_from`` of each version, in the order of ``versions``."""
        return list(self._dates)

    def version_index(self, day: date) -> int:
        index = bisect_right(self._dates, day) - 1
        if index < 0:
            if self.before_first:
                return 0
            raise ScheduleError(
                f"No tariff version is in force on {day}; the first takes effect on "
                f"{self._dates[0]}."
            )
        return index

    def day_plan(self, day: date) -> DayPlan:
        plan = self._plans.get(day)
        if plan is None:
            plan = self._plans[day] = self._make_plan(day)
        return plan

    def _make_plan(self, day: date) -> DayPlan:
        index = self.version_index(day)
        tariff = self.versions[index]
        if tariff.tou is None:
            starts: tuple[int, ...] = (0,)
            ends: tuple[int, ...] = (MINUTES_PER_DAY,)
            periods: tuple[str | None, ...] = (None,)
        else:
            table = tariff.tou.table_for(day)
            starts = tuple(band.start for band in table)
            ends = tuple(band.end for band in table)
            periods = tuple(band.period for band in table)
        tiers, allowance = tariff.tiers, tariff.allowance
        return DayPlan(
            day=day,
            version=index,
            tariff=tariff,
            starts=starts,
            ends=ends,
            periods=periods,
            tier_cycle=None if tiers is None else (tiers.cycle, cycle_start(tiers.cycle, day)),
            allowance_cycle=(
                None if allowance is None else (allowance.cycle, cycle_start(allowance.cycle, day))
            ),
        )


def split(
    schedule: TariffSchedule, start: datetime, end: datetime, quantity: Decimal
) -> Iterator[tuple[DayPlan, str | None, Decimal]]:
    """The pieces of an interval, cut at band boundaries and midnights, in time order:
    (day plan, TOU period, units).

    Units are shared in proportion to time: the units up to each cut are ``quantity * elapsed /
    length`` floored to ``SPLIT_QUANTUM``, and a piece gets the difference between its two cuts
    (the last one the rest), so the pieces add up exactly to ``quantity`` and a cut gets the
    same units whichever other cuts are made.
    """
    whole = (end - start) // _US
    taken = Decimal(0)
    moment = start
    while moment < end:
        day = moment.date()
        plan = schedule.day_plan(day)
        band = plan.band_at(moment.hour * 60 + moment.minute)
        band_end = midnight(day) + timedelta(minutes=plan.ends[band])
        if band_end >= end:
            yield plan, plan.periods[band], quantity - taken
            return
        upto = _SPLIT.multiply(quantity, Decimal((band_end - start) // _US))
        upto = _SPLIT.divide(upto, Decimal(whole)).quantize(SPLIT_QUANTUM, context=_SPLIT)
        yield plan, plan.periods[band], upto - taken
        taken, moment = upto, band_end
