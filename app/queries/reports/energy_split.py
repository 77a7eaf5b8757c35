"""The energy report's TOU periods and tiers: what the scope's meters were billed for per period
(sharp, peak, flat, valley...) and per tier step, read from the usage billed per day
(``charge_day``, added to by each posting: ``app.runtime.usage_posting``), never from the
usage charges. A column appears only when the scope's tariffs have such a period or tier in
the report's period, so a site without time-of-use or tiered tariffs sees no new columns.

Billed usage only: a meter without an account or a tariff that can price it adds nothing here,
so the period columns of a utility may add up to less than its column. Where a tariff has both
TOU periods and tiers, a unit counts once in its period's column and once in its tier's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from typing import TypeVarTuple

from sqlalchemy import ColumnElement, Select, func, select

from app.queries.report_table import Column, ColumnKind
from app.queries.reports.period import Period
from app.store.models import Building, ChargeDay, Meter, Room
from app.vocabulary import Utility

# DOMAIN.md's five periods, dearest first; a period of another name follows them by name.
PERIOD_ORDER = ("sharp", "peak", "flat", "valley", "deep_valley")
_UTILITIES = {Utility.ELECTRICITY: ("electricity", "kwh"), Utility.WATER: ("water", "m3")}

_Row = TypeVarTuple("_Row")

SPLIT_NOTE = (
    "TOU period and tier columns: the usage billed in each time-of-use period and at each "
    "tier step of the tariffs (from the postings, per day), for the periods and steps the "
    "scope's tariffs had; usage of a meter billed to no account counts in none. When an "
    "all-units tier step is reached, the cycle's earlier units move to it on that day."
)


def split_keys(units: Iterable[tuple[Utility, str, int]]) -> list[tuple[Utility, str, int]]:
    """The (utility, period, tier) cells that have columns, in column order: per utility,
    its periods (tier 0), then its tiers (period "")."""

    def order(cell: tuple[Utility, str, int]) -> tuple[int, int, int, str]:
        utility, period, tier = cell
        rank = PERIOD_ORDER.index(period) if period in PERIOD_ORDER else len(PERIOD_ORDER)
        return (list(_UTILITIES).index(utility), 1 if tier else 0, tier or rank, period)

    return sorted(set(units), key=order)


def split_column(cell: tuple[Utility, str, int]) -> Column:
    utility, period, tier = cell
    name, unit = _UTILITIES[utility]
    shown = unit.replace("kwh", "kWh")
    if tier:
        return Column(
            f"{name}_tier_{tier}_{unit}",
            f"{name.capitalize()} tier {tier}",
            ColumnKind.QUANTITY,
            shown,
            3,
            total=True,
        )
    return Column(
        f"{name}_{period}_{unit}",
        f"{name.capitalize()} {period.replace('_', ' ')}",
        ColumnKind.QUANTITY,
        shown,
        3,
        total=True,
    )


def cells_of(
    utility: Utility, period: str, tier: int, units: int
) -> Iterator[tuple[tuple[Utility, str, int], int]]:
    """The columns a charge_day sum counts in: its period's and its tier's."""
    if utility not in _UTILITIES:
        return
    if period:
        yield (utility, period, 0), units
    if tier:
        yield (utility, "", tier), units


def _scoped(
    query: Select[*_Row], period: Period, condition: ColumnElement[bool] | None
) -> Select[*_Row]:
    """``query`` over the period's days, the scope's meters, no building's incomer."""
    query = query.where(
        ChargeDay.day.between(period.first, period.last), Meter.incomer_building_id.is_(None)
    )
    if condition is None:
        return query
    return query.where(Meter.room_id.in_(select(Room.id).where(condition)))


def charged_by_place(
    period: Period, condition: ColumnElement[bool] | None
) -> Select[int, Utility, str, int, int, str, int, str, str]:
    """Per room (with its floor and building) and utility, period and tier: the units billed
    over ``period``; rows (units, utility, period, tier, room id, label, floor, code, name)."""
    query = (
        select(
            func.sum(ChargeDay.units),
            Meter.utility,
            ChargeDay.period,
            ChargeDay.tier,
            Room.id,
            Room.label,
            Room.floor,
            Building.code,
            Building.name,
        )
        .join(Meter, Meter.id == ChargeDay.meter_id)
        .outerjoin(Room, Room.id == Meter.room_id)
        .outerjoin(Building, Building.id == Room.building_id)
        .group_by(
            Meter.utility,
            ChargeDay.period,
            ChargeDay.tier,
            Room.id,
            Room.label,
            Room.floor,
            Building.code,
            Building.name,
        )
    )
    return _scoped(query, period, condition)


def charged_by_day(
    period: Period, condition: ColumnElement[bool] | None
) -> Select[date, int, Utility, str, int]:
    """Per day, utility, period and tier: the units billed; rows (day, units, utility, period,
    tier)."""
    query = (
        select(
            ChargeDay.day,
            func.sum(ChargeDay.units),
            Meter.utility,
            ChargeDay.period,
            ChargeDay.tier,
        )
        .join(Meter, Meter.id == ChargeDay.meter_id)
        .group_by(ChargeDay.day, Meter.utility, ChargeDay.period, ChargeDay.tier)
    )
    return _scoped(query, period, condition)


def day_key(day: date, by: str) -> date | str:
    """The row a day counts in, as the time groupings key their rows."""
    return day if by == "day" else day.isoformat()[:7]
