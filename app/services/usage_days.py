"""The meters' daily rollup (``daily_usage``): per meter and site-local day, the units used (Wh
or litres, the meter's multiplier applied) and the peak demand seen (W, electricity only), so a
report of a year reads one row per meter and day instead of every interval reading.

What a meter used between two consecutive stored readings is the difference of its registers
times its multiplier, as the history bars (``app.queries.history``) and billing count it. A pair
that spans local midnights is shared between its days in proportion to time, in whole units
that add up exactly to the difference (largest remainder). A pair whose register went backwards
adds nothing; ``HELD`` readings are never paired (the reading store does not pass them).

``add_pairs`` runs in the transaction that stores the readings (``ReadingStore.store``): one
upsert that adds (``ON CONFLICT (meter_id, day) DO UPDATE SET units = units + ...``, on SQLite
as on PostgreSQL), so two runtimes owning different buses never overwrite each other.
``add_readings`` does the same for readings another path stored (a meter's final register at a
replacement, an import, the demo's past), pairing each with the meter's previous reading.

Peak demand is the highest average power over a pair of readings at least ``MIN_DEMAND_S``
apart (an interval's demand, as utilities count it); shorter pairs say nothing about it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Float,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.queries.site_facts import site_zone
from app.store.models import DailyUsage, IntervalReading, Meter
from app.vocabulary import ReadingQuality, Utility

MIN_DEMAND_S = 600.0  # a pair shorter than this gives no demand figure (register resolution)
_CHUNK = 5000  # rows per upsert statement
_NAMES = ("meter_id", "day", "units", "peak_power_w")
_Insert = TypeVar("_Insert", postgresql.Insert, sqlite.Insert)


@dataclass(frozen=True, slots=True)
class UsagePair:
    """Two consecutive stored readings of one meter (registers in Wh or litres, times aware)."""

    meter_id: int
    utility: Utility
    start_at: datetime
    start_units: int
    end_at: datetime
    end_units: int


def split_units(units: int, weights: Sequence[int]) -> list[int]:
    """``units`` shared in proportion to ``weights`` (non-negative integers) in whole units
    that sum to ``units`` exactly: each part rounded down, the units left over going to the
    parts with the largest remainders (the earlier part first on a tie). All weights zero: all
    to the last part."""
    total = sum(weights)
    if total <= 0:
        return [0] * (len(weights) - 1) + [units]
    parts = [units * w // total for w in weights]
    left = units - sum(parts)
    if left:
        remainders = sorted(range(len(weights)), key=lambda i: (-(units * weights[i] % total), i))
        for index in remainders[:left]:
            parts[index] += 1
    return parts


class LocalDays:
    """Site-local days of moments, remembering the last day asked for (the readings of a batch
    fall on one or two days: one zone conversion per day, not per reading)."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._day = date.min
        self._start = self._end = 0.0

    def window(self, moment_s: float) -> tuple[date, float, float]:
        """The local day holding ``moment_s`` (epoch seconds) and its edges in epoch seconds
        (from local midnight to the next: 23 or 25 hours across a daylight-saving change)."""
        if not self._start <= moment_s < self._end:
            day = datetime.fromtimestamp(moment_s, self.zone).date()
            self._day = day
            self._start = datetime.combine(day, time(), self.zone).timestamp()
            self._end = datetime.combine(day + timedelta(days=1), time(), self.zone).timestamp()
        return self._day, self._start, self._end


def pair_days(
    start_s: float, end_s: float, units: int, days: LocalDays
) -> list[tuple[date, int, float]]:
    """(day, units, seconds of the pair in it) for each local day the pair overlaps. A pair
    that does not move forward in time puts everything on the day of its end."""
    day, _start, day_end = days.window(start_s)
    if end_s <= day_end:
        if end_s <= start_s:
            return [(days.window(end_s)[0], units, 0.0)]
        return [(day, units, end_s - start_s)]
    spans: list[tuple[date, float]] = []
    moment = start_s
    while moment < end_s:
        day, _start, day_end = days.window(moment)
        spans.append((day, min(day_end, end_s) - moment))
        moment = day_end
    parts = split_units(units, [round(seconds * 1_000_000) for _, seconds in spans])
    return [(d, part, seconds) for (d, seconds), part in zip(spans, parts, strict=True)]


def rollup(
    pairs: Iterable[UsagePair], zone: ZoneInfo, multipliers: dict[int, int]
) -> dict[tuple[int, date], list[float]]:
    """(meter id, day) -> [units, peak W or -1] of ``pairs``. ``multipliers`` holds the meters
    whose multiplier is not 1."""
    electricity = Utility.ELECTRICITY
    days = LocalDays(zone)
    cells: dict[tuple[int, date], list[float]] = {}
    for pair in pairs:
        delta = pair.end_units - pair.start_units
        if delta < 0:
            continue  # went backwards: unknown, never negative
        units = delta * multipliers.get(pair.meter_id, 1)
        start_s, end_s = pair.start_at.timestamp(), pair.end_at.timestamp()
        span = end_s - start_s
        demand = span >= MIN_DEMAND_S and pair.utility is electricity
        peak = units * 3600.0 / span if demand else -1
        for day, part, _seconds in pair_days(start_s, end_s, units, days):
            cell = cells.get((pair.meter_id, day))
            if cell is None:
                cells[(pair.meter_id, day)] = [part, peak]
            else:
                cell[0] += part
                cell[1] = max(cell[1], peak)
    return cells


def add_pairs(session: Session, pairs: Sequence[UsagePair], zone: ZoneInfo | None = None) -> int:
    """Add what each pair used to its meter's days, in the caller's transaction; returns how
    many (meter, day) rows were added to."""
    if not pairs:
        return 0
    zone = zone or site_zone(session) or ZoneInfo("UTC")
    # The few meters behind a current transformer: cheaper than an IN list of 20,000 ids.
    multipliers: dict[int, int] = {
        meter_id: multiplier
        for meter_id, multiplier in session.execute(
            select(Meter.id, Meter.multiplier).where(Meter.multiplier != 1)
        )
        if multiplier
    }
    cells = rollup(pairs, zone, multipliers)
    _upsert(session, cells)
    return len(cells)


def add_readings(session: Session, readings: Iterable[tuple[int, datetime, int]]) -> int:
    """Add the usage of readings another path stored (meter id, read at, register), in the
    caller's transaction and after they were inserted: each is paired with the meter's
    previous stored reading that is not ``HELD``. Returns how many (meter, day) rows were
    added to. For a few meters at a time (a replacement, an import, the demo's past)."""
    by_meter: dict[int, list[tuple[datetime, int]]] = {}
    for meter_id, read_at, units in readings:
        by_meter.setdefault(meter_id, []).append((read_at, units))
    found = session.execute(select(Meter.id, Meter.utility).where(Meter.id.in_(list(by_meter))))
    utilities: dict[int, Utility] = dict(found.all())
    pairs: list[UsagePair] = []
    for meter_id, rows in by_meter.items():
        rows.sort()
        first = rows[0][0]
        before = session.execute(
            select(IntervalReading.read_at, IntervalReading.register_units)
            .where(
                and_(
                    IntervalReading.meter_id == meter_id,
                    IntervalReading.quality != ReadingQuality.HELD,
                    IntervalReading.read_at < first,
                )
            )
            .order_by(IntervalReading.read_at.desc())
            .limit(1)
        ).first()
        chain = ([(before[0], before[1])] if before is not None else []) + rows
        pairs.extend(
            UsagePair(meter_id, utilities[meter_id], a_at, a_units, b_at, b_units)
            for (a_at, a_units), (b_at, b_units) in pairwise(chain)
        )
    return add_pairs(session, pairs)


def _upsert(session: Session, cells: dict[tuple[int, date], list[float]]) -> None:
    """One upsert that adds. On PostgreSQL one statement whatever the rows (each column sent
    as one array, unnested); on SQLite a prepared statement run once per row by the driver,
    given plain values (ints, strs, floats, None: no column type has anything to convert), as
    SQLAlchemy's per-row parameter handling would cost more than the statement itself."""
    # In (meter, day) order, so two transactions adding to the same rows lock them alike.
    rows = [
        (meter_id, day.isoformat(), int(units), None if peak_w < 0 else round(peak_w, 1))
        for (meter_id, day), (units, peak_w) in cells.items()
    ]
    rows.sort()  # (meter, day) is unique: only those two are ever compared
    if not rows:
        return
    connection = session.connection()
    table: Table = DailyUsage.__table__  # type: ignore[assignment]
    if connection.dialect.name == "postgresql":
        columns = [
            func.unnest(bindparam(name, type_=postgresql.ARRAY(kind)))
            for name, kind in zip(_NAMES, (Integer, String, BigInteger, Float), strict=True)
        ]
        pg = postgresql.insert(table).from_select(list(_NAMES), select(*columns))
        arrays = {name: [row[i] for row in rows] for i, name in enumerate(_NAMES)}
        connection.execute(_adding(pg, table), arrays)
        return
    lite = sqlite.insert(table).values({name: bindparam(name) for name in _NAMES})
    compiled = _adding(lite, table).compile(dialect=connection.dialect)
    order = [_NAMES.index(name) for name in compiled.positiontup or ()]
    params = [tuple(row[i] for i in order) for row in rows]
    for start in range(0, len(params), _CHUNK):
        connection.exec_driver_sql(compiled.string, params[start : start + _CHUNK])


def _adding(insert: _Insert, table: Table) -> _Insert:
    """``insert`` adding to the row of its meter and day if there is one."""
    peak = table.c.peak_power_w
    new_peak = insert.excluded.peak_power_w
    return insert.on_conflict_do_update(
        index_elements=["meter_id", "day"],
        set_={
            "units": table.c.units + insert.excluded.units,
            # The larger of the two, either may be NULL (SQLite's max() would give NULL).
            "peak_power_w": case((or_(peak.is_(None), new_peak > peak), new_peak), else_=peak),
        },
    )
