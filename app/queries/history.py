"""Energy or volume used per hour or per day, for the history bars of the charts screen.

Computed from stored ``IntervalReading`` rows: ``register_units`` is the cumulative register in
Wh (electricity) or litres (water, gas). What a meter used between two consecutive readings is
the difference of its register, times the meter's multiplier (CT ratio). A pair of readings is
spread over the buckets it overlaps in proportion to time (linear interpolation of the
register), so readings that miss a bucket edge, and gaps of several hours, share their usage out
rather than piling it onto one bar; a bar that got part of a pair longer than ``GAP_S`` is
flagged as estimated. A pair whose register went backwards (a reset, a swapped register,
a rollover) is left out: its usage is unknown, never negative. ``HELD`` readings (implausible,
kept for evidence) are never used.

A meter's readings are only ever paired with the same meter's readings: after a replacement
the old meter's pairs end at its final reading and the new meter's start at its initial one, so
a room or building sums both without a jump between two different registers.

Buckets are site-local hours or days (the site's time zone: ``site_zone``): a day is from local
midnight to local midnight (23 or 25 hours on a daylight-saving change); hours are 3600 s from
local midnight. ``coverage`` says what share of a bucket the readings cover, out of the time the
target's meters were installed in it (0 = nothing known, 1 = fully measured).

Pure parts (``bucket_edges``, ``spread_units``) are plain functions of data; ``energy_history``
and ``history_targets`` each read in one session. No Qt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from app.queries.site_facts import site_zone
from app.store.database import Database
from app.store.models import Building, IntervalReading, Meter, Room
from app.vocabulary import ReadingQuality, Utility

GAP_S = 3600.0  # a pair of readings further apart than this is a gap: its share is estimated
LOOK_AROUND = timedelta(days=31)  # how far outside the range a reading may pair with one inside
MAX_BUCKETS = 5000  # about 7 months of hours, 13 years of days
UNITS_PER_DISPLAY = 1000.0  # Wh per kWh, litres per m3


class Resolution(StrEnum):
    HOUR = "hour"
    DAY = "day"


class TargetKind(StrEnum):
    METER = "meter"
    ROOM = "room"
    BUILDING = "building"
    SITE = "site"


@dataclass(frozen=True, slots=True)
class HistoryTarget:
    """Whose usage: a meter (``utility`` must be the meter's), a room, a building (by id) or
    the whole site (``id`` None), of one utility."""

    kind: TargetKind
    id: int | None
    utility: Utility


class HistoryRefused(ValueError):
    """The question cannot be answered as asked; the message says why and what to do."""


@dataclass(frozen=True)
class EnergyBars:
    """Usage per bucket. ``units`` are Wh or litres (multiplier applied), floats because a pair
    of readings is shared between buckets; ``amounts`` are kWh or m3."""

    target: HistoryTarget
    resolution: Resolution
    zone: str
    starts: tuple[datetime, ...]  # site-local, aware
    ends: tuple[datetime, ...]
    units: tuple[float, ...]
    coverage: tuple[float, ...]  # 0..1
    estimated: tuple[bool, ...]  # part of the bar comes from a long gap between readings
    meters: int  # meters whose readings were used
    resets: int  # pairs left out because the register went backwards
    gaps: int  # pairs longer than GAP_S

    @property
    def unit(self) -> str:
        return "kWh" if self.target.utility is Utility.ELECTRICITY else "m3"

    @property
    def amounts(self) -> tuple[float, ...]:
        return tuple(u / UNITS_PER_DISPLAY for u in self.units)

    @property
    def total_units(self) -> float:
        return float(sum(self.units))

    @property
    def total(self) -> float:
        """kWh or m3 over the whole range."""
        return self.total_units / UNITS_PER_DISPLAY


@dataclass(frozen=True, slots=True)
class Spread:
    units: NDArray[np.float64]  # per bucket
    covered_s: NDArray[np.float64]  # seconds of each bucket inside a usable pair of readings
    estimated: NDArray[np.bool_]
    resets: int
    gaps: int


# -- pure ---------------------------------------------------------------------------------------


def bucket_edges(
    first_day: date, last_day: date, zone: ZoneInfo, resolution: Resolution
) -> list[datetime]:
    """Edges (UTC, aware) of the buckets covering the site-local days first_day..last_day:
    one more edge than buckets."""
    if last_day < first_day:
        raise HistoryRefused(
            f"The range ends ({last_day.isoformat()}) before it starts "
            f"({first_day.isoformat()}); choose an end date on or after the start."
        )
    days = (last_day - first_day).days + 1
    midnights = [
        datetime.combine(first_day + timedelta(days=i), time(0), zone).astimezone(UTC)
        for i in range(days + 1)
    ]
    if resolution is Resolution.DAY:
        return midnights
    hours = round((midnights[-1] - midnights[0]).total_seconds() / 3600)
    return [midnights[0] + timedelta(hours=h) for h in range(hours + 1)]


def spread_units(
    edges_s: NDArray[np.float64],
    times_s: NDArray[np.float64],
    registers: NDArray[np.int64],
    gap_s: float = GAP_S,
) -> Spread:
    """One meter's usage per bucket from its readings (times ascending, epoch seconds).

    Each pair of consecutive readings adds its register difference to the buckets it overlaps,
    in proportion to the overlap; a pair that goes backwards adds nothing and is counted as a
    reset. Outside the first and last reading nothing is known: 0 units, 0 covered seconds.
    """
    buckets = max(0, edges_s.size - 1)
    if times_s.size < 2:
        zero = np.zeros(buckets)
        return Spread(zero, zero.copy(), np.zeros(buckets, dtype=np.bool_), 0, 0)
    deltas = np.diff(registers).astype(np.float64)
    spans = np.diff(times_s)
    usable = deltas >= 0
    # Cumulative usage and covered time at each reading, interpolated at the edges: the
    # differences between edges are each bucket's share of every pair it overlaps.
    used = np.concatenate(([0.0], np.cumsum(np.where(usable, deltas, 0.0))))
    covered = np.concatenate(([0.0], np.cumsum(np.where(usable, spans, 0.0))))
    long = usable & (spans > gap_s)
    in_gap = np.concatenate(([0.0], np.cumsum(np.where(long, spans, 0.0))))
    units = np.diff(np.interp(edges_s, times_s, used))
    covered_s = np.diff(np.interp(edges_s, times_s, covered))
    estimated = np.diff(np.interp(edges_s, times_s, in_gap)) > 0
    return Spread(units, covered_s, estimated, int(np.count_nonzero(~usable)), int(long.sum()))


def up_to_now(edges: list[datetime], now: datetime) -> list[datetime]:
    """``edges`` without the bars that start at or after ``now``. HistoryRefused when they
    all do."""
    kept = len(edges)
    while kept > 1 and edges[kept - 2] >= now:
        kept -= 1
    if kept < 2:
        raise HistoryRefused(
            f"The range starts on {edges[0]:%Y-%m-%d}, in the future: nothing was used yet. "
            "Choose days up to today."
        )
    return edges[:kept]


def installed_seconds(
    edges_s: NDArray[np.float64], installed_s: float, removed_s: float | None
) -> NDArray[np.float64]:
    """Seconds of each bucket during which a meter was installed."""
    end = np.inf if removed_s is None else removed_s
    lo = np.maximum(edges_s[:-1], installed_s)
    hi = np.minimum(edges_s[1:], end)
    out: NDArray[np.float64] = np.clip(hi - lo, 0.0, None)
    return out


# -- queries ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _MeterFacts:
    id: int
    multiplier: int
    installed_s: float
    removed_s: float | None


def _meters_of(target: HistoryTarget) -> Select[int, int, datetime, datetime | None]:
    query = select(Meter.id, Meter.multiplier, Meter.installed_at, Meter.removed_at).where(
        Meter.utility == target.utility
    )
    if target.kind is TargetKind.METER:
        query = query.where(Meter.id == target.id)
    elif target.kind is TargetKind.ROOM:
        query = query.where(Meter.room_id == target.id)
    elif target.kind is TargetKind.BUILDING:
        query = query.join(Room, Room.id == Meter.room_id).where(Room.building_id == target.id)
    else:  # the site: its rooms' meters; a building's incomer would count their use twice
        query = query.where(Meter.incomer_building_id.is_(None))
    return query.order_by(Meter.id)


def _readings(
    session: Session, meter_ids: Sequence[int], start: datetime, end: datetime
) -> list[tuple[int, datetime, int]]:
    """Readings of the meters from start to end, plus each meter's last one before start and
    first one after end (within LOOK_AROUND), so pairs across the edges are known; ordered by
    meter and time."""
    usable = and_(
        IntervalReading.meter_id.in_(meter_ids),
        IntervalReading.quality != ReadingQuality.HELD,
    )
    columns = (IntervalReading.meter_id, IntervalReading.read_at, IntervalReading.register_units)
    inside = select(*columns).where(
        usable, IntervalReading.read_at >= start, IntervalReading.read_at <= end
    )
    before = (
        select(IntervalReading.meter_id, func.max(IntervalReading.read_at).label("at"))
        .where(
            usable,
            IntervalReading.read_at < start,
            IntervalReading.read_at >= start - LOOK_AROUND,
        )
        .group_by(IntervalReading.meter_id)
        .subquery()
    )
    after = (
        select(IntervalReading.meter_id, func.min(IntervalReading.read_at).label("at"))
        .where(
            usable,
            IntervalReading.read_at > end,
            IntervalReading.read_at <= end + LOOK_AROUND,
        )
        .group_by(IntervalReading.meter_id)
        .subquery()
    )
    rows: list[tuple[int, datetime, int]] = [tuple(r) for r in session.execute(inside)]  # type: ignore[misc]
    for edge in (before, after):
        edge_rows = session.execute(
            select(*columns).join(
                edge,
                and_(
                    edge.c.meter_id == IntervalReading.meter_id,
                    edge.c.at == IntervalReading.read_at,
                ),
            )
        )
        rows.extend(tuple(r) for r in edge_rows)  # type: ignore[misc]
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


def energy_history(
    db: Database,
    target: HistoryTarget,
    first_day: date,
    last_day: date,
    resolution: Resolution,
    now: datetime | None = None,
) -> EnergyBars:
    """Usage of ``target`` per site-local hour or day over first_day..last_day (inclusive),
    up to the bar that holds ``now`` (default: the present): later bars have nothing to show
    yet. Raises ``HistoryRefused`` for a range that is backwards, too long or wholly in the
    future, a database with no site, or a meter asked for with another utility than its own.
    Runs one read session: call it from a worker thread."""
    with db.session() as session:
        zone = site_zone(session)
        if zone is None:
            raise HistoryRefused("No site is set up yet, so there is no history to show.")
        edges = bucket_edges(first_day, last_day, zone, resolution)
        if len(edges) - 1 > MAX_BUCKETS:
            raise HistoryRefused(
                f"{len(edges) - 1} bars are too many for one chart (at most {MAX_BUCKETS}); "
                "choose a shorter range or bars per day."
            )
        edges = up_to_now(edges, now or datetime.now(UTC))
        if target.kind is TargetKind.METER:
            utility = session.scalar(select(Meter.utility).where(Meter.id == target.id))
            if utility is None:
                raise HistoryRefused(f"No meter with id {target.id}; reload the list of meters.")
            if utility is not target.utility:
                raise HistoryRefused(
                    f"Meter {target.id} measures {utility.value}, not {target.utility.value}."
                )
        meters = [
            _MeterFacts(
                meter_id,
                multiplier or 1,
                installed.timestamp(),
                None if removed is None else removed.timestamp(),
            )
            for meter_id, multiplier, installed, removed in session.execute(_meters_of(target))
        ]
        rows = _readings(session, [m.id for m in meters], edges[0], edges[-1]) if meters else []
    edges_s = np.asarray([e.timestamp() for e in edges], dtype=np.float64)
    return _combine(target, resolution, zone, edges, edges_s, meters, rows)


def _combine(
    target: HistoryTarget,
    resolution: Resolution,
    zone: ZoneInfo,
    edges: list[datetime],
    edges_s: NDArray[np.float64],
    meters: list[_MeterFacts],
    rows: list[tuple[int, datetime, int]],
) -> EnergyBars:
    buckets = len(edges) - 1
    units = np.zeros(buckets)
    covered = np.zeros(buckets)
    expected = np.zeros(buckets)
    estimated = np.zeros(buckets, dtype=np.bool_)
    resets = gaps = used_meters = 0
    ids = np.asarray([r[0] for r in rows], dtype=np.int64)
    times = np.asarray([r[1].timestamp() for r in rows], dtype=np.float64)
    registers = np.asarray([r[2] for r in rows], dtype=np.int64)
    for meter in meters:
        lo, hi = np.searchsorted(ids, [meter.id, meter.id + 1])
        spread = spread_units(edges_s, times[lo:hi], registers[lo:hi])
        if hi - lo >= 2:
            used_meters += 1
        units += spread.units * meter.multiplier
        covered += spread.covered_s
        # A reading before the recorded install time still counts as being there.
        expected += np.maximum(
            installed_seconds(edges_s, meter.installed_s, meter.removed_s), spread.covered_s
        )
        estimated |= spread.estimated
        resets += spread.resets
        gaps += spread.gaps
    with np.errstate(invalid="ignore", divide="ignore"):
        coverage = np.where(expected > 0, covered / np.where(expected > 0, expected, 1), 0.0)
    return EnergyBars(
        target=target,
        resolution=resolution,
        zone=zone.key,
        starts=tuple(e.astimezone(zone) for e in edges[:-1]),
        ends=tuple(e.astimezone(zone) for e in edges[1:]),
        units=tuple(float(u) for u in units),
        coverage=tuple(float(min(1.0, c)) for c in coverage),
        estimated=tuple(bool(e) for e in estimated),
        meters=used_meters,
        resets=resets,
        gaps=gaps,
    )


# -- what can be charted ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeterName:
    id: int
    serial: str
    utility: Utility
    room_id: int | None
    room_label: str
    building_code: str
    floor: int | None
    in_service: bool


@dataclass(frozen=True, slots=True)
class RoomName:
    id: int
    label: str
    building_code: str


@dataclass(frozen=True, slots=True)
class BuildingName:
    id: int
    code: str
    name: str


@dataclass(frozen=True)
class ChartTargets:
    """Everything the charts screen can show, by name (meters include removed ones, whose
    history stays)."""

    meters: tuple[MeterName, ...]
    rooms: tuple[RoomName, ...]
    buildings: tuple[BuildingName, ...]
    utilities: tuple[Utility, ...]  # the utilities the site has meters of
    today: date | None = None  # the site's date now (None while no site is set up)


def history_targets(db: Database) -> ChartTargets:
    """Meters, rooms and buildings with their names, in one read session (worker thread)."""
    with db.session() as session:
        meter_rows = session.execute(
            select(
                Meter.id,
                Meter.serial,
                Meter.utility,
                Meter.room_id,
                Room.label,
                Building.code,
                Room.floor,
                Meter.removed_at,
            )
            .outerjoin(Room, Room.id == Meter.room_id)
            .outerjoin(Building, Building.id == Room.building_id)
            .order_by(Meter.serial)
        ).all()
        room_rows = session.execute(
            select(Room.id, Room.label, Building.code)
            .join(Building, Building.id == Room.building_id)
            .order_by(Room.label)
        ).all()
        building_rows = session.execute(
            select(Building.id, Building.code, Building.name).order_by(Building.code)
        ).all()
        zone = site_zone(session)
    meters = tuple(
        MeterName(
            id=meter_id,
            serial=serial,
            utility=utility,
            room_id=room_id,
            room_label=label or "",
            building_code=code or "",
            floor=floor,
            in_service=removed is None,
        )
        for meter_id, serial, utility, room_id, label, code, floor, removed in meter_rows
    )
    present = {m.utility for m in meters}
    return ChartTargets(
        meters=meters,
        rooms=tuple(RoomName(i, label, code) for i, label, code in room_rows),
        buildings=tuple(BuildingName(i, code, name) for i, code, name in building_rows),
        utilities=tuple(u for u in Utility if u in present),
        today=None if zone is None else datetime.now(zone).date(),
    )
