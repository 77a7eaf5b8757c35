"""Loss: what a building's incomer (master) meter measured against the sum of its rooms' meters,
day by day: the unmetered share (cables and transformers, common areas without a meter, energy
taken around a meter).

Read from the meters' daily rollup (``daily_usage``) as the energy report is, so a year of a
large site is a few grouped queries. A building's incomers are the meters marked so
(``Meter.incomer_building_id``, ``app.services.meter_incomer``), retired ones included for the
days they measured; several incomers of one utility (two feeders) are added up. Its rooms'
meters are the meters of the utility in its rooms now (as the energy report counts them).
Electricity always; water or gas too when a building of the scope has an incomer of it.

- ``by="day"``: one row per building with an incomer and day of the period.
- ``by="building"``: one row per building with an incomer, the period's totals.

A day with no reading of the incomer (before its first one, or none stored since it went
silent) shows nothing, the rooms included: every total compares the same days on both sides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from app.queries.report_table import Cell, Chart, Column, ColumnKind, ReportTable, totals_of
from app.queries.reports.energy import quantity
from app.queries.reports.period import Period
from app.queries.reports.revenue import GroupingRefused
from app.queries.reports.scope import Scope, ScopeRefused
from app.queries.reports.site_terms import site_terms
from app.store.database import Database
from app.store.models import Building, DailyUsage, Meter, Room
from app.vocabulary import Utility

GROUPINGS = ("day", "building")
UNITS = {Utility.ELECTRICITY: "kWh", Utility.WATER: "m3", Utility.GAS: "m3"}
NO_INCOMER_READING = "no incomer reading"
_TENTH = Decimal("0.1")


@dataclass
class _Side:
    """One building and utility: units per ISO day of its incomers and of its rooms' meters."""

    incomer: dict[str, int] = field(default_factory=dict)  # a key: the incomer has the day
    rooms: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Building:
    id: int
    code: str
    name: str
    retired: bool

    @property
    def words(self) -> str:
        return self.name if self.name == self.code else f"{self.name} ({self.code})"


def loss_report(
    db: Database, period: Period, scope: Scope, by: str = "day", now: datetime | None = None
) -> ReportTable:
    """The loss report of ``period`` for the whole site or one building, grouped ``by`` one of
    ``GROUPINGS``. GroupingRefused for another grouping; ScopeRefused for a floor, room or
    account (a loss is a whole building's) or a building the site does not have."""
    if by not in GROUPINGS:
        raise GroupingRefused(f"--by {by!r}: the loss report groups by {', '.join(GROUPINGS)}")
    if scope.floor is not None or scope.room or scope.account:
        raise ScopeRefused(
            "the loss report compares a whole building's incomer with all of its rooms: give "
            "--building alone, or no scope for every building"
        )
    with db.session() as session:
        terms = site_terms(session)
        buildings = _buildings(session, scope.building)
        sides = _sides(session, period, buildings)
    utilities = [Utility.ELECTRICITY] + [
        u for u in Utility if u is not Utility.ELECTRICITY and any(k[1] is u for k in sides)
    ]
    measured = [b for b in buildings if any(k[0] == b.id for k in sides)]
    if by == "day":
        columns, rows = _day_rows(period, measured, utilities, sides)
    else:
        columns, rows = _building_rows(measured, utilities, sides)
    first = utilities[0]
    chart = Chart(
        "bar",
        by,
        (f"{first.value}_loss_percent",),
        f"{first.value.capitalize()} loss per {by} (%)"
        + (", building by building" if by == "day" and len(measured) > 1 else ""),
    )
    return terms.report(
        "loss",
        f"Loss by {by}, {period.words()}",
        scope.heading(),
        columns,
        rows,
        totals=_totals(columns, rows, utilities),
        chart=chart,
        notes=_notes(buildings, utilities, sides, rows, columns),
        now=now,
    )


def _buildings(session: Session, wanted: str | None) -> list[_Building]:
    """The buildings of the scope: one by code or name, or every building in use or with an
    incomer (a retired building keeps its history), in code order."""
    query = select(Building.id, Building.code, Building.name, Building.retired_at).order_by(
        Building.code
    )
    if wanted is not None and wanted.strip():
        text = wanted.strip()
        query = query.where(or_(Building.code == text, Building.name == text))
        found = session.execute(query).all()
        if not found:
            known = ", ".join(session.scalars(select(Building.code).order_by(Building.code)))
            raise ScopeRefused(
                f"there is no building {text}; the site's buildings are {known or 'none yet'}"
            )
    else:
        with_incomer = select(Meter.incomer_building_id).where(
            Meter.incomer_building_id.is_not(None)
        )
        found = session.execute(
            query.where(or_(Building.retired_at.is_(None), Building.id.in_(with_incomer)))
        ).all()
    return [_Building(i, code, name, retired is not None) for i, code, name, retired in found]


def _in(period: Period) -> ColumnElement[bool]:
    return DailyUsage.day.between(period.first.isoformat(), period.last.isoformat())


def _per_day(session: Session, meters: Select[int], period: Period) -> dict[str, int]:
    """ISO day -> units of ``meters`` in the period (a day any of them has a row for)."""
    query = (
        select(DailyUsage.day, func.sum(DailyUsage.units))
        .where(DailyUsage.meter_id.in_(meters), _in(period))
        .group_by(DailyUsage.day)
    )
    return {day: int(units) for day, units in session.execute(query)}


def _sides(
    session: Session, period: Period, buildings: Sequence[_Building]
) -> dict[tuple[int, Utility], _Side]:
    """(building id, utility) -> its incomers' and its rooms' days, for each building and
    utility that has an incomer."""
    ids = [b.id for b in buildings]
    pairs = session.execute(
        select(Meter.incomer_building_id, Meter.utility)
        .where(Meter.incomer_building_id.in_(ids))
        .distinct()
    ).all()
    sides: dict[tuple[int, Utility], _Side] = {}
    for building_id, utility in sorted(pairs, key=lambda p: (p[0], list(Utility).index(p[1]))):
        assert building_id is not None  # the query asked for buildings' incomers only
        incomers = select(Meter.id).where(
            Meter.incomer_building_id == building_id, Meter.utility == utility
        )
        rooms = (
            select(Meter.id)
            .join(Room, Room.id == Meter.room_id)
            .where(
                Room.building_id == building_id,
                Meter.utility == utility,
                Meter.incomer_building_id.is_(None),
            )
        )
        sides[(building_id, utility)] = _Side(
            _per_day(session, incomers, period), _per_day(session, rooms, period)
        )
    return sides


def _percent(loss: int, incomer: int) -> Decimal | None:
    if incomer <= 0:
        return None
    return (Decimal(loss) * 100 / incomer).quantize(_TENTH)


def _utility_columns(utility: Utility, *, days: bool = False) -> list[Column]:
    unit = UNITS[utility]
    name, q, head = utility.value, ColumnKind.QUANTITY, utility.value.capitalize()
    key = f"{name}_{{}}_{unit.lower()}"
    columns = [
        Column(key.format("incomer"), f"{head}: incomer", q, unit, 3, total=True),
        Column(key.format("rooms"), f"{head}: rooms", q, unit, 3, total=True),
        Column(key.format("loss"), f"{head}: loss", q, unit, 3, total=True),
        Column(f"{name}_loss_percent", f"{head}: loss", ColumnKind.PERCENT, "%", 1),
    ]
    if days:
        return [Column(f"{name}_days", f"{head}: days", ColumnKind.COUNT, total=True), *columns]
    return columns


def _cells(incomer: int | None, rooms: int | None) -> list[Cell]:
    """Incomer, rooms, loss and loss % of one building and utility (None: no incomer reading)."""
    if incomer is None or rooms is None:
        return [None, None, None, None]
    loss = incomer - rooms
    return [quantity(incomer), quantity(rooms), quantity(loss), _percent(loss, incomer)]


def _day_rows(
    period: Period,
    buildings: Sequence[_Building],
    utilities: Sequence[Utility],
    sides: dict[tuple[int, Utility], _Side],
) -> tuple[tuple[Column, ...], list[tuple[Cell, ...]]]:
    columns: list[Column] = [Column("day", "Day", ColumnKind.DATE), Column("building", "Building")]
    for utility in utilities:
        columns += _utility_columns(utility)
    columns.append(Column("note", "Note"))
    rows: list[tuple[Cell, ...]] = []
    for building in buildings:
        for day in period.days:
            key = day.isoformat()
            row: list[Cell] = [day, building.words]
            missing: list[str] = []
            for utility in utilities:
                side = sides.get((building.id, utility))
                if side is None:
                    row += _cells(None, None)
                    continue
                if key not in side.incomer:
                    missing.append(utility.value)
                    row += _cells(None, None)
                    continue
                row += _cells(side.incomer[key], side.rooms.get(key, 0))
            row.append(f"{NO_INCOMER_READING} ({', '.join(missing)})" if missing else None)
            rows.append(tuple(row))
    return tuple(columns), rows


def _building_rows(
    buildings: Sequence[_Building],
    utilities: Sequence[Utility],
    sides: dict[tuple[int, Utility], _Side],
) -> tuple[tuple[Column, ...], list[tuple[Cell, ...]]]:
    columns: list[Column] = [Column("building", "Building")]
    for utility in utilities:
        columns += _utility_columns(utility, days=True)
    rows: list[tuple[Cell, ...]] = []
    for building in buildings:
        row: list[Cell] = [building.words]
        for utility in utilities:
            side = sides.get((building.id, utility))
            if side is None or not side.incomer:
                row += [0 if side is not None else None, *_cells(None, None)]
                continue
            rooms = sum(side.rooms.get(day, 0) for day in side.incomer)
            row += [len(side.incomer), *_cells(sum(side.incomer.values()), rooms)]
        rows.append(tuple(row))
    return tuple(columns), rows


def _totals(
    columns: tuple[Column, ...], rows: list[tuple[Cell, ...]], utilities: Sequence[Utility]
) -> tuple[Cell, ...]:
    """Column sums, and each utility's loss % of its summed incomer and loss."""
    totals = list(totals_of(columns, tuple(rows), "Total"))
    keys = [column.key for column in columns]
    for utility in utilities:
        unit = UNITS[utility].lower()
        incomer = totals[keys.index(f"{utility.value}_incomer_{unit}")]
        loss = totals[keys.index(f"{utility.value}_loss_{unit}")]
        assert isinstance(incomer, Decimal)
        assert isinstance(loss, Decimal)
        percent = None if incomer <= 0 else (loss * 100 / incomer).quantize(_TENTH)
        totals[keys.index(f"{utility.value}_loss_percent")] = percent
    return tuple(totals)


def _notes(
    buildings: Sequence[_Building],
    utilities: Sequence[Utility],
    sides: dict[tuple[int, Utility], _Side],
    rows: list[tuple[Cell, ...]],
    columns: tuple[Column, ...],
) -> tuple[str, ...]:
    notes = [
        "Each building's incomer (master) meter against the sum of the meters of its rooms "
        "(a meter counts for the room it is in now), from the meters' daily rollup: loss = "
        "incomer - rooms, loss % = loss / incomer. The loss holds what no room's meter "
        "measures: cables and transformers, common areas without a meter (stairs, corridors, "
        "pumps) and energy taken around a meter.",
        f"'{NO_INCOMER_READING}': no reading of the incomer covers that day (before its first "
        "one, or none stored since it went silent); the rooms are left out of that day too, so "
        "every total compares the same days on both sides.",
    ]
    for utility in utilities:
        without = [b.words for b in buildings if not b.retired and (b.id, utility) not in sides]
        if without:
            notes.append(
                f"No {utility.value} incomer, so not in this report: {', '.join(without)}. Mark "
                "a building's incoming meter with 'main.py meter incomer --meter SERIAL "
                "--building CODE'."
            )
    losses = [i for i, c in enumerate(columns) if c.key.endswith("_loss_percent")]
    percents = [cell for row in rows for i in losses if isinstance(cell := row[i], Decimal)]
    if any(percent < 0 for percent in percents):
        notes.append(
            "A negative loss: the rooms' meters counted more than the incomer. Check the "
            "incomer's multiplier (CT ratio), and that every room meter of the building is fed "
            "through it."
        )
    return tuple(notes)
