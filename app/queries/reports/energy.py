"""Energy: what the rooms used, electricity in kWh and water in m3, over a period and a scope.

Read from the meters' daily rollup (``daily_usage``, one row per meter and site-local day,
written as the readings are stored: ``app.services.usage_days``), never from the interval
readings, so a year of a large site is a few grouped queries.

- ``by="room"``, ``"floor"``, ``"building"``: one row per place that had a meter in the period,
  the top consumers first (electricity, most first), with the previous period of the same
  length and the change in per cent. By room, a room that used nothing, or under a fifth of the
  median of the rooms that used any, gets a note: a hint of a vacant room or of a meter
  bypassed, tampered with or broken.
- ``by="day"``, ``"month"``: one row per day or calendar month of the period.

A meter counts for the room it is in now (as accounts do in the other reports); a replaced
meter's old and new registers both count for their room.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, ScalarSelect, func, select
from sqlalchemy.orm import Session

from app.queries.report_table import Cell, Chart, Column, ColumnKind, ReportTable, totals_of
from app.queries.reports.period import Period
from app.queries.reports.revenue import GroupingRefused
from app.queries.reports.scope import Scope, room_condition
from app.queries.reports.site_terms import site_terms
from app.store.database import Database
from app.store.models import Building, DailyUsage, Meter, Room
from app.vocabulary import Utility

GROUPINGS = ("room", "floor", "building", "day", "month")
PLACES = ("room", "floor", "building")
LOW_SHARE = Fraction(1, 5)  # below a fifth of the median: "low use"
ZERO_USE = "zero use"
LOW_USE = "low use (below 20 % of the median)"
NO_ROOM = "(no room)"
_THOUSANDTH = Decimal("0.001")

_Key = tuple[str | int | None, ...]


@dataclass
class _Place:
    """One row of a report by place: its meters' units in the period and the one before."""

    label: str
    units: dict[Utility, int] = field(default_factory=dict)  # a key: the place has such a meter
    previous: dict[Utility, int] = field(default_factory=dict)


def energy_report(
    db: Database, period: Period, scope: Scope, by: str = "room", now: datetime | None = None
) -> ReportTable:
    """The energy report of ``period`` and ``scope`` grouped ``by`` one of ``GROUPINGS``.
    GroupingRefused for another grouping, ScopeRefused for a scope naming nothing."""
    if by not in GROUPINGS:
        raise GroupingRefused(f"--by {by!r}: the energy report groups by {', '.join(GROUPINGS)}")
    with db.session() as session:
        terms = site_terms(session)
        condition = room_condition(session, scope)
        if by in PLACES:
            before = _previous(period)
            places = _places(session, period, before, condition, by, terms.zone)
        else:
            per_day = _per_day(session, period, condition)
    if by in PLACES:
        columns, rows, totals = _place_rows(places, by)
        chart = Chart("bar", by, ("electricity_kwh",), "Top consumers: electricity")
        notes = _notes(by, before)
    else:
        columns, rows = _time_rows(per_day, period, by)
        totals = totals_of(columns, rows, "Total")
        chart = Chart("bar", by, ("electricity_kwh",), f"Electricity per {by}")
        notes = _notes(by, None)
    return terms.report(
        "energy",
        f"Energy by {by}, {period.words()}",
        scope.heading(),
        columns,
        rows,
        totals=totals,
        chart=chart,
        notes=notes,
        now=now,
    )


def _previous(period: Period) -> Period:
    """The period of the same length just before ``period``."""
    length = period.last - period.first + timedelta(days=1)
    return Period(period.first - length, period.first - timedelta(days=1))


def _in(period: Period) -> ColumnElement[bool]:
    """The rollup's rows of the period's days (ISO dates compare as text)."""
    return DailyUsage.day.between(period.first.isoformat(), period.last.isoformat())


def quantity(units: int) -> Decimal:
    """Wh or litres as kWh or m3, exact to the unit."""
    return (Decimal(units) / 1000).quantize(_THOUSANDTH)


def _change(now: int | None, before: int | None) -> Decimal | None:
    if now is None or not before:
        return None
    return (Decimal(now - before) * 100 / before).quantize(Decimal("0.1"))


# -- by place -----------------------------------------------------------------------------------


def _used(period: Period) -> ScalarSelect[int]:
    """The units of the period's days of the meter of the enclosing query: a range of the
    (meter, day, units) index, as long as the period whatever the years stored."""
    return (
        select(func.coalesce(func.sum(DailyUsage.units), 0))
        .where(DailyUsage.meter_id == Meter.id, _in(period))
        .correlate(Meter)
        .scalar_subquery()
    )


def _places(
    session: Session,
    period: Period,
    before: Period,
    condition: ColumnElement[bool] | None,
    by: str,
    zone: ZoneInfo,
) -> dict[_Key, _Place]:
    """The places of the scope that had a meter in the period or used anything in either."""
    start, end = period.bounds(zone)
    query = (
        select(
            _used(period),
            _used(before),
            Meter.utility,
            Meter.installed_at,
            Meter.removed_at,
            Room.id,
            Room.label,
            Room.floor,
            Building.code,
            Building.name,
        )
        .outerjoin(Room, Room.id == Meter.room_id)
        .outerjoin(Building, Building.id == Room.building_id)
    )
    if condition is not None:
        query = query.where(condition)
    places: dict[_Key, _Place] = {}
    for (
        now,
        then,
        utility,
        installed,
        removed,
        room_id,
        label,
        floor,
        code,
        name,
    ) in session.execute(query):
        in_service = installed < end and (removed is None or removed >= start)
        if not in_service and not now and not then:
            continue
        key, words = _where(by, room_id, label, floor, code, name)
        place = places.setdefault(key, _Place(words))
        place.units[utility] = place.units.get(utility, 0) + int(now)
        place.previous[utility] = place.previous.get(utility, 0) + int(then)
    return places


def _where(
    by: str,
    room_id: int | None,
    label: str | None,
    floor: int | None,
    code: str | None,
    name: str | None,
) -> tuple[_Key, str]:
    """A place's key and its words: the room's label, "A floor 3", or the building's name."""
    if room_id is None:
        return (None,), NO_ROOM
    if by == "room":
        return (room_id,), str(label)
    if by == "floor":
        return (code, floor), f"{code} floor {floor}"
    return (code,), str(name or code)


def _place_columns(by: str) -> tuple[Column, ...]:
    kwh, m3 = ColumnKind.QUANTITY, ColumnKind.QUANTITY
    columns = (
        Column(by, by.capitalize()),
        Column("electricity_kwh", "Electricity", kwh, "kWh", 3, total=True),
        Column("electricity_previous_kwh", "Previous period", kwh, "kWh", 3, total=True),
        Column("electricity_change", "Change", ColumnKind.PERCENT, "%", 1),
        Column("water_m3", "Water", m3, "m3", 3, total=True),
        Column("water_previous_m3", "Previous period", m3, "m3", 3, total=True),
        Column("water_change", "Change", ColumnKind.PERCENT, "%", 1),
    )
    return (*columns, Column("note", "Note")) if by == "room" else columns


def _place_rows(
    places: dict[_Key, _Place], by: str
) -> tuple[tuple[Column, ...], tuple[tuple[Cell, ...], ...], tuple[Cell, ...]]:
    columns = _place_columns(by)
    medians = {utility: _median_of_users(places.values(), utility) for utility in Utility}
    ordered = sorted(
        places.values(),
        key=lambda p: (
            -p.units.get(Utility.ELECTRICITY, -1),
            -p.units.get(Utility.WATER, -1),
            p.label,
        ),
    )
    rows: list[tuple[Cell, ...]] = []
    for place in ordered:
        row: list[Cell] = [place.label]
        for utility in (Utility.ELECTRICITY, Utility.WATER):
            now, before = place.units.get(utility), place.previous.get(utility)
            row += [
                None if now is None else quantity(now),
                None if before is None else quantity(before),
                _change(now, before),
            ]
        if by == "room":
            row.append(_note(place, medians))
        rows.append(tuple(row))
    rows_tuple = tuple(rows)
    totals = list(totals_of(columns, rows_tuple, "Total"))
    for utility, first in ((Utility.ELECTRICITY, 1), (Utility.WATER, 4)):
        now_sum = sum(p.units.get(utility, 0) for p in places.values())
        before_sum = sum(p.previous.get(utility, 0) for p in places.values())
        totals[first + 2] = _change(now_sum, before_sum)
    return columns, rows_tuple, tuple(totals)


def _median_of_users(places: Iterable[_Place], utility: Utility) -> Fraction | None:
    """The median units of the places that used any of ``utility``; None if none did."""
    used = sorted(u for p in places if (u := p.units.get(utility, 0)) > 0)
    if not used:
        return None
    middle = len(used) // 2
    if len(used) % 2:
        return Fraction(used[middle])
    return Fraction(used[middle - 1] + used[middle], 2)


def _note(place: _Place, medians: dict[Utility, Fraction | None]) -> str | None:
    """Zero or low use of the room's electricity (of its water if it has no electricity
    meter)."""
    utility = Utility.ELECTRICITY if Utility.ELECTRICITY in place.units else Utility.WATER
    if utility not in place.units or place.label == NO_ROOM:
        return None
    units = place.units[utility]
    if units == 0:
        return ZERO_USE
    median = medians[utility]
    if median is not None and units < median * LOW_SHARE:
        return LOW_USE
    return None


# -- by day or month ----------------------------------------------------------------------------


def _per_day(
    session: Session, period: Period, condition: ColumnElement[bool] | None
) -> dict[tuple[str, Utility], int]:
    """(ISO day, utility) -> units of the scope's meters: per utility, the period's range of
    each of its meters in the (meter, day, units) index."""
    out: dict[tuple[str, Utility], int] = {}
    for utility in (Utility.ELECTRICITY, Utility.WATER):
        meters = select(Meter.id).where(Meter.utility == utility)
        if condition is not None:
            meters = meters.where(Meter.room_id.in_(select(Room.id).where(condition)))
        query = (
            select(DailyUsage.day, func.sum(DailyUsage.units))
            .where(DailyUsage.meter_id.in_(meters), _in(period))
            .group_by(DailyUsage.day)
        )
        out |= {(day, utility): int(units) for day, units in session.execute(query)}
    return out


def _time_rows(
    per_day: dict[tuple[str, Utility], int], period: Period, by: str
) -> tuple[tuple[Column, ...], tuple[tuple[Cell, ...], ...]]:
    first = Column("day", "Day", ColumnKind.DATE) if by == "day" else Column("month", "Month")
    columns = (
        first,
        Column("electricity_kwh", "Electricity", ColumnKind.QUANTITY, "kWh", 3, total=True),
        Column("water_m3", "Water", ColumnKind.QUANTITY, "m3", 3, total=True),
    )
    sums: dict[date | str, dict[Utility, int]] = defaultdict(lambda: defaultdict(int))
    for day in period.days:  # every day or month of the period, used or not
        key: date | str = day if by == "day" else day.isoformat()[:7]
        cell = sums[key]
        for utility in (Utility.ELECTRICITY, Utility.WATER):
            cell[utility] += per_day.get((day.isoformat(), utility), 0)
    rows = tuple(
        (key, quantity(cell[Utility.ELECTRICITY]), quantity(cell[Utility.WATER]))
        for key, cell in sums.items()
    )
    return columns, rows


def _notes(by: str, before: Period | None) -> tuple[str, ...]:
    notes = [
        "From the meters' daily rollup: the register differences of consecutive interval "
        "readings times each meter's multiplier, shared between the site's local days in "
        "proportion to time. Implausible (held) readings and registers that went backwards "
        "count nothing. Electricity in kWh, water in m3 (1,000 litres).",
        "A meter counts for the room it is in now; a replaced meter's old and new registers "
        "both count.",
    ]
    if before is not None:
        notes.append(
            f"Previous period: {before.first.isoformat()} to {before.last.isoformat()}, the "
            "same number of days just before. A period that reaches today is compared with a "
            "whole one."
        )
    if by == "room":
        notes.append(
            f"Note: '{ZERO_USE}' or '{LOW_USE}' of the rooms that used any: a hint of a "
            "vacant room, or of a meter bypassed, tampered with or broken (electricity; water "
            "for a room with only a water meter)."
        )
    return tuple(notes)
