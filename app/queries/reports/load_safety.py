"""Load safety: the load-guard trips and lock-outs of a period with their evidence, room by
room, and the supply commands that failed (the relay or valve did not read back as asked, or no
bus served the meter).

``by="trip"`` (default) lists every trip: when, room, meter, what tripped it (total power or a
sudden increase, with the power, the increase, the power factor, the band and the window), a
lock-out or not, and when and by whom it was restored. ``by="room"`` and ``by="building"`` count
trips, lock-outs and failed commands per room or building, most first: where heaters are.
Rooms are the meters' rooms (a meter belongs to a room; a trip is the room's whatever account
paid then)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.queries.report_table import (
    Cell,
    Chart,
    Column,
    ColumnKind,
    ReportTable,
    counted,
)
from app.queries.reports.period import Period
from app.queries.reports.scope import Scope, meter_condition, room_condition
from app.queries.reports.site_terms import site_terms
from app.store.database import Database
from app.store.models import Building, LoadTrip, Meter, Operator, RelayCommand, Room
from app.vocabulary import CommandState, RelayAction

GROUPINGS = ("trip", "room", "building")
_FAILED = (CommandState.FAILED, CommandState.UNVERIFIED)


def load_safety_report(
    db: Database, period: Period, scope: Scope, by: str = "trip", now: datetime | None = None
) -> ReportTable:
    with db.session() as session:
        terms = site_terms(session)
        start, end = period.bounds(terms.zone)
        rooms = meter_condition(session, scope)  # one meter, else the scope's rooms
        if rooms is None:
            rooms = room_condition(session, scope)
        trips = _trips(session, rooms, start, end)
        failed = _failed_commands(session, rooms, start, end)
    if by == "trip":
        columns, rows, chart, label = _listed(trips)
    else:
        columns, rows, chart, label = _counted(trips, failed, by)
    return terms.report(
        "load_safety",
        f"Load safety by {by}, {period.words()}",
        scope.heading(),
        columns,
        rows,
        label=label,
        chart=chart,
        notes=(
            f"{len(failed)} supply command(s) failed in the period (not read back as asked, or "
            "no bus served the meter)."
            if by == "trip"
            else "Failed commands: switches of the relay or valve that did not read back as "
            "asked, or that no bus served.",
        ),
        now=now,
    )


_Trip = tuple[LoadTrip, str, str, str, str | None]  # trip, serial, room, building, restored by


def _trips(session: Session, rooms: object, start: datetime, end: datetime) -> list[_Trip]:
    query = (
        select(LoadTrip, Meter.serial, Room.label, Building.code, Operator.display_name)
        .join(Meter, Meter.id == LoadTrip.meter_id)
        .outerjoin(Room, Room.id == Meter.room_id)
        .outerjoin(Building, Building.id == Room.building_id)
        .outerjoin(Operator, Operator.id == LoadTrip.restored_by_id)
        .where(LoadTrip.tripped_at >= start, LoadTrip.tripped_at < end)
        .order_by(LoadTrip.tripped_at, LoadTrip.id)
    )
    if rooms is not None:
        query = query.where(rooms)  # type: ignore[arg-type]
    return [
        (trip, serial, room or "", building or "", name)
        for trip, serial, room, building, name in session.execute(query)
    ]


def _failed_commands(
    session: Session, rooms: object, start: datetime, end: datetime
) -> list[tuple[str, str]]:
    """(room, building) of each supply command that failed in the period."""
    query = (
        select(Room.label, Building.code)
        .select_from(RelayCommand)
        .join(Meter, Meter.id == RelayCommand.meter_id)
        .outerjoin(Room, Room.id == Meter.room_id)
        .outerjoin(Building, Building.id == Room.building_id)
        .where(
            RelayCommand.requested_at >= start,
            RelayCommand.requested_at < end,
            RelayCommand.state.in_(_FAILED),
            # Supply commands only: a clock sync or the meter's own alarm is no safety matter.
            RelayCommand.action.in_((RelayAction.OPEN_SUPPLY, RelayAction.CUT_SUPPLY)),
        )
    )
    if rooms is not None:
        query = query.where(rooms)  # type: ignore[arg-type]
    return [(room or "", building or "") for room, building in session.execute(query)]


_Built = tuple[tuple[Column, ...], list[tuple[Cell, ...]], Chart | None, str]


def _listed(trips: list[_Trip]) -> _Built:
    columns = (
        Column("tripped", "Tripped", ColumnKind.DATETIME),
        Column("room", "Room"),
        Column("meter", "Meter"),
        Column("mode", "Tripped by"),
        Column("power", "Power", ColumnKind.QUANTITY, "W", 0),
        Column("increase", "Increase", ColumnKind.QUANTITY, "W", 0),
        Column("factor", "PF", ColumnKind.QUANTITY, "", 2),
        Column("locked", "Lock-outs", ColumnKind.COUNT, total=True),
        Column("restored", "Restored", ColumnKind.DATETIME),
        Column("by", "By"),
    )
    rows: list[tuple[Cell, ...]] = []
    for trip, serial, room, _building, name in trips:
        rows.append(
            (
                trip.tripped_at,
                room,
                serial,
                "sudden increase" if trip.mode == "increment" else "total power",
                _number(trip.power_w),
                _number(trip.delta_power_w),
                _number(trip.power_factor, 2),
                1 if trip.locked_out else 0,
                trip.restored_at,
                name or ("" if trip.restored_at is None else "automatic restore"),
            )
        )
    return columns, rows, None, counted(len(rows), "trip")


def _counted(trips: list[_Trip], failed: list[tuple[str, str]], by: str) -> _Built:
    cells: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for trip, _serial, room, building, _name in trips:
        cell = cells[room if by == "room" else building]
        cell[0] += 1
        cell[1] += 1 if trip.locked_out else 0
    for room, building in failed:
        cells[room if by == "room" else building][2] += 1
    columns = (
        Column(by, "Room" if by == "room" else "Building"),
        Column("trips", "Trips", ColumnKind.COUNT, total=True),
        Column("lockouts", "Lock-outs", ColumnKind.COUNT, total=True),
        Column("failed", "Failed commands", ColumnKind.COUNT, total=True),
    )
    ordered = sorted(cells.items(), key=lambda item: (-item[1][0], -item[1][2], item[0]))
    rows: list[tuple[Cell, ...]] = [(name or "—", *counts) for name, counts in ordered]
    chart = Chart("bar", by, ("trips", "lockouts"), f"Trips per {by}")
    return columns, rows, chart, "Total"


def _number(value: float | None, places: int = 0) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal(10) ** -places)


def trips_in(session: Session, start: datetime, end: datetime) -> int:
    """How many trips the period holds (for tests and the screen's summary)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(LoadTrip)
            .where(LoadTrip.tripped_at >= start, LoadTrip.tripped_at < end)
        )
        or 0
    )
