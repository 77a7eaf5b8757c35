"""Meter health: how the meters answered over a period, for the technician who has to find the
failing ones: polls, failed polls, timeouts, CRC and frame errors, exception replies, hours
offline and the worst clock drift, per meter or per bus, the worst first.

Read from the meters' daily poll health (``meter_health_day``, one row per meter and site-local
day, added to by the runtime that polls the meter: ``app.runtime.health_days``), so a year of a
large site is one grouped query.

- ``by="meter"`` (default): one row per meter of the scope in service in the period (or with
  health counted in it): building, room, serial, bus, address, profile, the counts, failed polls
  in per cent of polls, hours offline, the worst drift (the largest by absolute value, with its
  sign: + ahead, - behind) and when it last answered.
- ``by="bus"``: the same summed per bus (the meters of the scope on it), the worst drift of its
  meters and the newest answer.

Worst first: most hours offline, then most failed polls, then most wire faults, then the
largest drift. A meter belongs to the room it is in now, as in the other reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from app.queries.report_table import Cell, Chart, Column, ColumnKind, ReportTable, counted
from app.queries.reports.period import Period
from app.queries.reports.revenue import GroupingRefused
from app.queries.reports.scope import Scope, meter_condition, room_condition
from app.queries.reports.site_terms import site_terms
from app.store.database import Database
from app.store.models import Building, Bus, Meter, MeterHealthDay, Room

GROUPINGS = ("meter", "bus")
NO_ROOM = "(no room)"
_HOURS = Decimal("0.01")
_TENTH = Decimal("0.1")


@dataclass
class Health:
    """What one meter (or one bus: its meters summed) counted in the period."""

    label: str  # the meter's serial or the bus's name
    polls: int = 0
    failed_polls: int = 0
    timeouts: int = 0
    crc_errors: int = 0
    frame_errors: int = 0
    exceptions: int = 0
    offline_s: int = 0
    drift_s: float | None = None  # the largest by absolute value, signed
    last_seen: datetime | None = None
    meters: int = 1
    place: tuple[str, str] = ("", "")  # (building, room) of a meter
    wire: tuple[str, str, str] = ("", "", "")  # (bus, address, profile) of a meter

    def add(self, other: Health) -> None:
        """Sum ``other`` (a meter of this bus) into this one."""
        for name in (
            "polls",
            "failed_polls",
            "timeouts",
            "crc_errors",
            "frame_errors",
            "exceptions",
            "offline_s",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.drift_s = worst_drift(self.drift_s, other.drift_s)
        if other.last_seen is not None and (
            self.last_seen is None or other.last_seen > self.last_seen
        ):
            self.last_seen = other.last_seen

    def worst_first(self) -> tuple[float, ...]:
        wire_faults = self.timeouts + self.crc_errors + self.frame_errors + self.exceptions
        return (-self.offline_s, -self.failed_polls, -wire_faults, -abs(self.drift_s or 0.0))


def worst_drift(a: float | None, b: float | None) -> float | None:
    """The larger of two drifts by absolute value, keeping its sign (None: not read)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if abs(a) >= abs(b) else b


def failed_percent(failed: int, polls: int) -> Decimal | None:
    if not polls:
        return None
    return (Decimal(failed) * 100 / polls).quantize(_TENTH)


def hours(seconds: int) -> Decimal:
    return (Decimal(seconds) / 3600).quantize(_HOURS)


def meter_health_report(
    db: Database, period: Period, scope: Scope, by: str = "meter", now: datetime | None = None
) -> ReportTable:
    """The meter health report of ``period`` and ``scope`` grouped ``by`` one of
    ``GROUPINGS``. GroupingRefused for another grouping, ScopeRefused for a scope naming
    nothing."""
    if by not in GROUPINGS:
        raise GroupingRefused(
            f"--by {by!r}: the meter health report groups by {', '.join(GROUPINGS)}"
        )
    with db.session() as session:
        terms = site_terms(session)
        # One meter (a building's incomer has no room), or the meters of the scope's rooms.
        condition = meter_condition(session, scope)
        if condition is None:
            condition = room_condition(session, scope)
        meters = _meters(session, period, condition, *period.bounds(terms.zone))
    if by == "meter":
        rows = sorted(meters, key=lambda h: (*h.worst_first(), *h.place, h.label))
        columns, cells = _meter_rows(rows)
        label = counted(len(rows), "meter")
    else:
        buses: dict[str, Health] = {}
        for meter in meters:
            bus = buses.get(meter.wire[0])
            if bus is None:
                buses[meter.wire[0]] = bus = Health(meter.wire[0], meters=0)
            bus.add(meter)
            bus.meters += 1
        rows = sorted(buses.values(), key=lambda h: (*h.worst_first(), h.label))
        columns, cells = _bus_rows(rows)
        label = "Total"
    everything = Health(label, meters=len(meters))
    for meter in meters:
        everything.add(meter)
    return terms.report(
        "meter_health",
        f"Meter health by {by}, {period.words()}",
        scope.heading(),
        columns,
        cells,
        totals=_totals(columns, everything, label),
        chart=_chart(by, rows),
        notes=_notes(),
        now=now,
    )


def _meters(
    session: Session,
    period: Period,
    condition: ColumnElement[bool] | None,
    start: datetime,
    end: datetime,
) -> list[Health]:
    """The scope's meters in service in the period or with health counted in it."""
    day = MeterHealthDay.day
    counted_days = (
        select(
            MeterHealthDay.meter_id,
            func.sum(MeterHealthDay.polls).label("polls"),
            func.sum(MeterHealthDay.failed_polls).label("failed_polls"),
            func.sum(MeterHealthDay.timeouts).label("timeouts"),
            func.sum(MeterHealthDay.crc_errors).label("crc_errors"),
            func.sum(MeterHealthDay.frame_errors).label("frame_errors"),
            func.sum(MeterHealthDay.exceptions).label("exceptions"),
            func.sum(MeterHealthDay.offline_s).label("offline_s"),
            func.max(MeterHealthDay.drift_s).label("drift_high"),
            func.min(MeterHealthDay.drift_s).label("drift_low"),
        )
        .where(day >= period.first, day <= period.last)
        .group_by(MeterHealthDay.meter_id)
    )
    if condition is not None:  # only the scope's meters' ranges of the (meter, day) index
        scoped = select(Meter.id).outerjoin(Room, Room.id == Meter.room_id).where(condition)
        counted_days = counted_days.where(MeterHealthDay.meter_id.in_(scoped))
    per_meter = counted_days.subquery()
    c = per_meter.c
    query = (
        select(
            Meter.serial,
            Meter.address,
            Meter.profile,
            Meter.installed_at,
            Meter.removed_at,
            Meter.last_seen_at,
            Bus.name,
            Room.label,
            Building.code,
            c.meter_id,
            c.polls,
            c.failed_polls,
            c.timeouts,
            c.crc_errors,
            c.frame_errors,
            c.exceptions,
            c.offline_s,
            c.drift_high,
            c.drift_low,
        )
        .join(Bus, Bus.id == Meter.bus_id)
        .outerjoin(Room, Room.id == Meter.room_id)
        .outerjoin(Building, Building.id == Room.building_id)
        .outerjoin(per_meter, c.meter_id == Meter.id)
    )
    if condition is not None:
        query = query.where(condition)
    out: list[Health] = []
    for row in session.execute(query):
        in_service = row.installed_at < end and (row.removed_at is None or row.removed_at >= start)
        if not in_service and row.meter_id is None:
            continue
        out.append(
            Health(
                row.serial,
                polls=int(row.polls or 0),
                failed_polls=int(row.failed_polls or 0),
                timeouts=int(row.timeouts or 0),
                crc_errors=int(row.crc_errors or 0),
                frame_errors=int(row.frame_errors or 0),
                exceptions=int(row.exceptions or 0),
                offline_s=int(row.offline_s or 0),
                drift_s=worst_drift(row.drift_high, row.drift_low),
                last_seen=row.last_seen_at,
                place=(row.code or "", row.label or NO_ROOM),
                wire=(row.name, row.address, row.profile),
            )
        )
    return out


def _counts(keys_first: tuple[Column, ...]) -> tuple[Column, ...]:
    count = ColumnKind.COUNT
    return (
        *keys_first,
        Column("polls", "Polls", count, total=True),
        Column("failed_pct", "Failed", ColumnKind.PERCENT, "%", 1),
        Column("timeouts", "Timeouts", count, total=True),
        Column("crc_errors", "CRC errors", count, total=True),
        Column("frame_errors", "Frame errors", count, total=True),
        Column("exceptions", "Exception replies", count, total=True),
        Column("offline_h", "Offline", ColumnKind.QUANTITY, "h", 2, total=True),
        Column("drift_s", "Worst drift", ColumnKind.QUANTITY, "s", 0),
        Column("last_seen", "Last seen", ColumnKind.DATETIME),
    )


def _numbers(health: Health) -> tuple[Cell, ...]:
    return (
        health.polls,
        failed_percent(health.failed_polls, health.polls),
        health.timeouts,
        health.crc_errors,
        health.frame_errors,
        health.exceptions,
        hours(health.offline_s),
        None if health.drift_s is None else Decimal(round(health.drift_s)),
        health.last_seen,
    )


_Rows = tuple[tuple[Column, ...], list[tuple[Cell, ...]]]


def _meter_rows(meters: list[Health]) -> _Rows:
    columns = _counts(
        (
            Column("building", "Building"),
            Column("room", "Room"),
            Column("meter", "Meter"),
            Column("bus", "Bus"),
            Column("address", "Address"),
            Column("profile", "Profile"),
        )
    )
    rows = [(*m.place, m.label, *m.wire, *_numbers(m)) for m in meters]
    return columns, rows


def _bus_rows(buses: list[Health]) -> _Rows:
    columns = _counts(
        (Column("bus", "Bus"), Column("meters", "Meters", ColumnKind.COUNT, total=True))
    )
    rows = [(b.label, b.meters, *_numbers(b)) for b in buses]
    return columns, rows


def _totals(columns: tuple[Column, ...], everything: Health, label: str) -> tuple[Cell, ...]:
    """The sums, the failed share of all polls and the worst drift of all meters (the newest
    answer is left out: it says nothing of the whole)."""
    numbers = dict(zip([c.key for c in columns[-9:]], _numbers(everything), strict=True))
    numbers["last_seen"] = None
    out: list[Cell] = [label]
    for column in columns[1:]:
        if column.key == "meters":
            out.append(everything.meters)
        else:
            out.append(numbers.get(column.key))
    return tuple(out)


def _chart(by: str, rows: list[Health]) -> Chart | None:
    """Hours offline of the worst meters or buses; failed polls in per cent when none was
    offline; no chart when none failed either."""
    category = "meter" if by == "meter" else "bus"
    worst = "meters" if by == "meter" else "buses"
    if any(h.offline_s for h in rows):
        return Chart("bar", category, ("offline_h",), f"Hours offline, the worst {worst}")
    if any(h.failed_polls for h in rows):
        return Chart("bar", category, ("failed_pct",), f"Failed polls, the worst {worst}")
    return None


def _notes() -> tuple[str, ...]:
    return (
        "From each meter's daily poll health, added by the runtime that polls its bus: polls "
        "and wire faults as its bus worker counted them (a failed poll may hold several "
        "timeouts or errors: each attempt counts), offline while the worker counted the meter "
        "offline (to within a minute), and time when no runtime polled counts nothing.",
        "Failed: failed polls in per cent of polls. Worst drift: the meter's clock minus the "
        "site's time at the clock read furthest off (+ ahead, - behind), in seconds.",
        "Worst first: most hours offline, then most failed polls, then most wire faults, then "
        "the largest drift. A meter counts for the room it is in now.",
    )
