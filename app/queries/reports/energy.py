"""Energy: what the rooms used, electricity in kWh and water in m3, over a period and a scope.

Read from the meters' daily rollup (``daily_usage``, one row per meter and site-local day,
written as the readings are stored: ``app.services.usage_days``), never from the interval
readings, so a year of a large site is a few grouped queries.

- ``by="room"``, ``"floor"``, ``"building"``: one row per place that had a meter in the period,
  the top consumers first (electricity, most first), with the previous period (the same number
  of days just before; of whole calendar months, the same number of months before: month on
  month) and the same days a year earlier, each with the change in per cent. By room, a room
  that used nothing, or under a fifth of the median of the rooms that used any, gets a note: a
  hint of a vacant room or of a meter bypassed, tampered with or broken.
- ``by="day"``, ``"month"``: one row per day or calendar month of the period, with the same day
  or month a year earlier and the change; by month also the month before and the change.
- Where the scope's tariffs have time-of-use periods or tiers, a column per period (peak, flat,
  valley kWh...) and per tier step of what was billed in the period, from the usage billed per
  day (``app.queries.reports.energy_split``).

A meter counts for the room it is in now (as accounts do in the other reports); a replaced
meter's old and new registers both count for their room. A building's incomer (master) meter
counts for no room: the loss report (``app.queries.reports.loss``) sets it against the rooms.
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
from app.queries.reports.energy_split import (
    PERIOD_ORDER,
    SPLIT_NOTE,
    cells_of,
    charged_by_day,
    charged_by_place,
    day_key,
    split_column,
    split_keys,
)
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
    year_before: dict[Utility, int] = field(default_factory=dict)
    split: dict[tuple[Utility, str, int], int] = field(default_factory=dict)  # TOU period, tier


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
        year = year_before(period)
        if by in PLACES:
            before = previous_period(period)
            places = _places(session, (period, before, year), condition, by, terms.zone)
            _add_split(session, period, condition, by, places)
        else:
            per_day = _per_day(session, period, condition)
            if by == "month":  # and the month before the first: each month against its last
                first = _months_back(period.first.replace(day=1), 1)
                per_day |= _per_day(
                    session, Period(first, period.first - timedelta(days=1)), condition
                )
            per_day_year = _per_day(session, year, condition)
            split_rows: dict[date | str, dict[tuple[Utility, str, int], int]] = defaultdict(dict)
            for day, units, utility, tou, tier in session.execute(
                charged_by_day(period, condition)
            ):
                cells = split_rows[day_key(day, by)]
                for cell, part in cells_of(utility, tou, tier, int(units)):
                    cells[cell] = cells.get(cell, 0) + part
    if by in PLACES:
        columns, rows, totals = _place_rows(places, by)
        chart = Chart("bar", by, ("electricity_kwh",), "Top consumers: electricity")
        notes = _notes(by, before, year)
    else:
        columns, rows = _time_rows(per_day, per_day_year, period, by)
        columns, rows = _with_time_split(columns, rows, split_rows)
        totals = _time_totals(columns, rows)
        chart = Chart("bar", by, ("electricity_kwh",), f"Electricity per {by}")
        notes = _notes(by, None, year)
    if any(column.key.startswith(_SPLIT_PREFIXES) for column in columns):
        notes = (*notes, SPLIT_NOTE)
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


def previous_period(period: Period) -> Period:
    """What ``period`` is compared with: as many whole calendar months just before a period of
    whole months (November against October: month on month), else the same number of days
    just before."""
    months = _whole_months(period)
    if months:
        return Period(_months_back(period.first, months), period.first - timedelta(days=1))
    length = period.last - period.first + timedelta(days=1)
    return Period(period.first - length, period.first - timedelta(days=1))


def year_before(period: Period) -> Period:
    """The same days a year earlier (a 29 February falls on the 28th)."""
    return Period(_a_year_back(period.first), _a_year_back(period.last))


def _a_year_back(day: date) -> date:
    if day.month == 2 and day.day == 29:
        return date(day.year - 1, 2, 28)
    return day.replace(year=day.year - 1)


def _months_back(first: date, months: int) -> date:
    """The first day of the month ``months`` before the month of ``first`` (a first day)."""
    index = first.year * 12 + first.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _whole_months(period: Period) -> int:
    """How many calendar months ``period`` is, if it is whole months; else 0."""
    after = period.last + timedelta(days=1)
    if period.first.day != 1 or after.day != 1:
        return 0
    return (after.year * 12 + after.month) - (period.first.year * 12 + period.first.month)


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
    periods: tuple[Period, Period, Period],
    condition: ColumnElement[bool] | None,
    by: str,
    zone: ZoneInfo,
) -> dict[_Key, _Place]:
    """The places of the scope that had a meter in the period (of ``periods``: the period, the
    previous one, the year before) or used anything in any of them; incomers are no place's."""
    period, before, year = periods
    start, end = period.bounds(zone)
    query = (
        select(
            _used(period),
            _used(before),
            _used(year),
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
        .where(Meter.incomer_building_id.is_(None))
    )
    if condition is not None:
        query = query.where(condition)
    places: dict[_Key, _Place] = {}
    for (
        now,
        then,
        last_year,
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
        if not in_service and not now and not then and not last_year:
            continue
        key, words = _where(by, room_id, label, floor, code, name)
        place = places.setdefault(key, _Place(words))
        place.units[utility] = place.units.get(utility, 0) + int(now)
        place.previous[utility] = place.previous.get(utility, 0) + int(then)
        place.year_before[utility] = place.year_before.get(utility, 0) + int(last_year)
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


_UTILITY_KEYS = ((Utility.ELECTRICITY, "electricity", "kwh"), (Utility.WATER, "water", "m3"))


def _compared(name: str, unit: str, what: str, then: str) -> tuple[Column, Column]:
    """A column of what was used in another period (``what``: "previous", "year_before") and
    the change against it in per cent."""
    shown = unit.replace("kwh", "kWh")
    change, title = ("change", "Change") if what == "previous" else ("year_change", "Year change")
    return (
        Column(f"{name}_{what}_{unit}", then, ColumnKind.QUANTITY, shown, 3, total=True),
        Column(f"{name}_{change}", title, ColumnKind.PERCENT, "%", 1),
    )


def _place_columns(by: str) -> tuple[Column, ...]:
    columns: list[Column] = [Column(by, by.capitalize())]
    for _utility, name, unit in _UTILITY_KEYS:
        shown = unit.replace("kwh", "kWh")
        columns += [
            Column(f"{name}_{unit}", name.capitalize(), ColumnKind.QUANTITY, shown, 3, total=True),
            *_compared(name, unit, "previous", "Previous period"),
            *_compared(name, unit, "year_before", "A year earlier"),
        ]
    return (*columns, Column("note", "Note")) if by == "room" else tuple(columns)


def _add_split(
    session: Session,
    period: Period,
    condition: ColumnElement[bool] | None,
    by: str,
    places: dict[_Key, _Place],
) -> None:
    """Each place's units billed per TOU period and tier over the period."""
    for units, utility, tou, tier, room_id, label, floor, code, name in session.execute(
        charged_by_place(period, condition)
    ):
        key, words = _where(by, room_id, label, floor, code, name)
        place = places.setdefault(key, _Place(words))
        for cell, part in cells_of(utility, tou, tier, int(units)):
            place.split[cell] = place.split.get(cell, 0) + part


_SPLIT_PREFIXES = tuple(
    f"{name}_{what}" for name in ("electricity", "water") for what in (*PERIOD_ORDER, "tier_")
)


def _with_time_split(
    columns: tuple[Column, ...],
    rows: tuple[tuple[Cell, ...], ...],
    split: dict[date | str, dict[tuple[Utility, str, int], int]],
) -> tuple[tuple[Column, ...], tuple[tuple[Cell, ...], ...]]:
    """The rows by day or month with a column per TOU period and tier billed (if any)."""
    cells = split_keys(cell for by_cell in split.values() for cell in by_cell)
    if not cells:
        return columns, rows
    out = []
    for row in rows:
        key = row[0]
        used = split.get(key, {}) if isinstance(key, date | str) else {}
        out.append((*row, *(quantity(used.get(cell, 0)) for cell in cells)))
    return (*columns, *(split_column(cell) for cell in cells)), tuple(out)


def _place_rows(
    places: dict[_Key, _Place], by: str
) -> tuple[tuple[Column, ...], tuple[tuple[Cell, ...], ...], tuple[Cell, ...]]:
    cells = split_keys(cell for place in places.values() for cell in place.split)
    columns = _place_columns(by)
    if cells:  # before the note
        split_columns = tuple(split_column(cell) for cell in cells)
        cut = len(columns) - 1 if by == "room" else len(columns)
        columns = (*columns[:cut], *split_columns, *columns[cut:])
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
            now = place.units.get(utility)
            before, last_year = place.previous.get(utility), place.year_before.get(utility)
            row += [
                None if now is None else quantity(now),
                None if before is None else quantity(before),
                _change(now, before),
                None if last_year is None else quantity(last_year),
                _change(now, last_year),
            ]
        row += [quantity(place.split[cell]) if cell in place.split else None for cell in cells]
        if by == "room":
            row.append(_note(place, medians))
        rows.append(tuple(row))
    rows_tuple = tuple(rows)
    totals = list(totals_of(columns, rows_tuple, "Total"))
    keys = [column.key for column in columns]
    for utility, name, _unit in _UTILITY_KEYS:
        now_sum = sum(p.units.get(utility, 0) for p in places.values())
        before_sum = sum(p.previous.get(utility, 0) for p in places.values())
        year_sum = sum(p.year_before.get(utility, 0) for p in places.values())
        totals[keys.index(f"{name}_change")] = _change(now_sum, before_sum)
        totals[keys.index(f"{name}_year_change")] = _change(now_sum, year_sum)
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
        meters = select(Meter.id).where(
            Meter.utility == utility, Meter.incomer_building_id.is_(None)
        )
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
    per_day: dict[tuple[str, Utility], int],
    per_day_year: dict[tuple[str, Utility], int],
    period: Period,
    by: str,
) -> tuple[tuple[Column, ...], tuple[tuple[Cell, ...], ...]]:
    """Each day or month of the period (used or not): its units, by month the month before's
    (whole) and the change, then the same days a year earlier and the change. A month the
    period holds only part of is compared with nothing the month before."""
    first = Column("day", "Day", ColumnKind.DATE) if by == "day" else Column("month", "Month")
    columns: list[Column] = [first]
    for _utility, name, unit in _UTILITY_KEYS:
        shown = unit.replace("kwh", "kWh")
        columns.append(
            Column(f"{name}_{unit}", name.capitalize(), ColumnKind.QUANTITY, shown, 3, total=True)
        )
        if by == "month":
            columns += _compared(name, unit, "previous", "Month before")
        columns += _compared(name, unit, "year_before", "A year earlier")
    sums: dict[date | str, dict[Utility, list[int]]] = {}
    whole: dict[date | str, int] = defaultdict(int)  # days of the key in the period
    no_year: set[date | str] = set()  # a 29 February by day: no such day a year earlier
    for day in period.days:
        key: date | str = day if by == "day" else day.isoformat()[:7]
        cell = sums.setdefault(key, {utility: [0, 0] for utility, _n, _u in _UTILITY_KEYS})
        whole[key] += 1
        back = _a_year_back(day)
        for utility, _name, _unit in _UTILITY_KEYS:
            cell[utility][0] += per_day.get((day.isoformat(), utility), 0)
            if back.day == day.day:
                cell[utility][1] += per_day_year.get((back.isoformat(), utility), 0)
            elif by == "day":
                no_year.add(key)
    rows: list[tuple[Cell, ...]] = []
    for key, cell in sums.items():
        row: list[Cell] = [key]
        for utility, _name, _unit in _UTILITY_KEYS:
            now, last_year = cell[utility]
            row.append(quantity(now))
            if isinstance(key, str):
                month = Period.month(int(key[:4]), int(key[5:]))
                before: int | None = None
                if whole[key] == len(month.days):
                    back = _months_back(month.first, 1)
                    earlier = Period.month(back.year, back.month)
                    before = sum(per_day.get((d.isoformat(), utility), 0) for d in earlier.days)
                row += [None if before is None else quantity(before), _change(now, before)]
            if key in no_year:
                row += [None, None]
            else:
                row += [quantity(last_year), _change(now, last_year)]
        rows.append(tuple(row))
    return tuple(columns), tuple(rows)


def _time_totals(
    columns: tuple[Column, ...], rows: tuple[tuple[Cell, ...], ...]
) -> tuple[Cell, ...]:
    """Column sums, and each change of the summed columns."""
    totals = list(totals_of(columns, rows, "Total"))
    keys = [column.key for column in columns]
    for _utility, name, unit in _UTILITY_KEYS:
        now = totals[keys.index(f"{name}_{unit}")]
        for what, change in (("previous", "change"), ("year_before", "year_change")):
            if f"{name}_{what}_{unit}" not in keys:
                continue
            index = keys.index(f"{name}_{what}_{unit}")
            if any(row[index] is None for row in rows):  # a part month, or a 29 February
                totals[index] = None
                continue
            then = totals[index]
            assert isinstance(now, Decimal)
            assert isinstance(then, Decimal)
            totals[keys.index(f"{name}_{change}")] = _change_of(now, then)
    return tuple(totals)


def _change_of(now: Decimal, before: Decimal) -> Decimal | None:
    if not before:
        return None
    return ((now - before) * 100 / before).quantize(Decimal("0.1"))


def _notes(by: str, before: Period | None, year: Period) -> tuple[str, ...]:
    notes = [
        "From the meters' daily rollup: the register differences of consecutive interval "
        "readings times each meter's multiplier, shared between the site's local days in "
        "proportion to time. Implausible (held) readings and registers that went backwards "
        "count nothing. Electricity in kWh, water in m3 (1,000 litres).",
        "A meter counts for the room it is in now; a replaced meter's old and new registers "
        "both count. A building's incomer (master) meter counts for no room: see the loss "
        "report.",
    ]
    if before is not None:
        same = (
            "the same number of whole months just before (month on month)"
            if _whole_months(before)
            else "the same number of days just before"
        )
        notes.append(
            f"Previous period: {before.first.isoformat()} to {before.last.isoformat()}, "
            f"{same}. A period that reaches today is compared with a whole one."
        )
    if by == "month":
        notes.append(
            "Month before: the whole calendar month before each month; a month the period "
            "holds only part of is compared with none."
        )
    notes.append(
        f"A year earlier: {year.first.isoformat()} to {year.last.isoformat()}, the same days "
        "(a 29 February has none by day)."
    )
    if by == "room":
        notes.append(
            f"Note: '{ZERO_USE}' or '{LOW_USE}' of the rooms that used any: a hint of a "
            "vacant room, or of a meter bypassed, tampered with or broken (electricity; water "
            "for a room with only a water meter)."
        )
    return tuple(notes)
