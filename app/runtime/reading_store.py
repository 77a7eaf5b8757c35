"""The engine's first step: store what the meters said.

Per batch of snapshots, in one transaction: each meter's last-seen time and relay or valve
state, an interval reading at each interval boundary (default 15 min; not every poll), and
implausible registers (gone backwards, or a jump beyond what the meter's rating allows since the
last reading) held as evidence and raised as alarms, never billed. A meter its bus worker counts
offline is marked so with an alarm of its own, unless its whole line is down (the snapshot says
``LINE_DOWN``): then the line's one alarm (``app.runtime.line_alarms``) speaks for all of its
meters, and a meter still silent once its line is back gets its own. What each new interval
reading used since the meter's previous one is added to its days (``app.services.usage_days``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from app.hardware.snapshot import LINE_DOWN, OFFLINE, Quality, Snapshot
from app.services.usage_days import UsagePair, add_pairs
from app.store.bulk_rows import insert_rows
from app.store.models import Alarm, IntervalReading, Meter
from app.vocabulary import (
    AlarmKind,
    AlarmSeverity,
    AlarmState,
    MeterStatus,
    ReadingQuality,
    Utility,
)

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 900
NOMINAL_VOLTAGE_V = 230.0
MAX_FLOW_LPS = 2.0  # no domestic water or gas meter passes more than this


@dataclass
class MeterTrack:
    """What the engine remembers of one meter between batches."""

    meter_id: int
    utility: Utility
    rated_current_a: int | None
    last_units: int | None = None  # register in Wh or litres
    last_units_at: datetime | None = None  # when that register was read
    last_slot: int | None = None  # index of the last interval stored
    # The last GOOD interval reading stored (register, time): what the next one's usage is
    # counted from in the daily rollup.
    stored_units: int | None = None
    stored_at: datetime | None = None
    offline: bool = False
    # Offline because its line is down, with no alarm of its own (yet).
    offline_by_line: bool = False


@dataclass(frozen=True, slots=True)
class StoredReading:
    """A GOOD interval reading as stored: what live rating prices next."""

    meter_id: int
    read_at: datetime  # aware
    units: int  # Wh or litres
    rates: dict[str, int] | None  # per-rate registers (rate_1..rate_4), same unit


@dataclass
class BatchResult:
    readings: int = 0
    held: int = 0
    seen: int = 0
    usage_units: dict[int, int] = field(default_factory=dict)  # meter id -> units used
    stored: list[StoredReading] = field(default_factory=list)  # GOOD interval readings
    pairs: list[UsagePair] = field(default_factory=list)  # each stored with its previous one


def units_of(snapshot: Snapshot, utility: Utility) -> int | None:
    """The cumulative register in the meter's resolution: Wh for energy, litres for volume."""
    if utility is Utility.ELECTRICITY:
        kwh = snapshot.energy_import_kwh
        return None if kwh is None else round(kwh * 1000)
    m3 = snapshot.volume_m3
    return None if m3 is None else round(m3 * 1000)


READING_COLUMNS = (
    IntervalReading.meter_id,
    IntervalReading.read_at,
    IntervalReading.register_units,
    IntervalReading.rate_registers,
)


def as_stored(rows: Iterable[Row[int, datetime, int, Any]]) -> list[StoredReading]:
    """Rows of ``READING_COLUMNS`` as ``StoredReading``s."""
    return [StoredReading(m, at, units, unpack_rates(rates)) for m, at, units, rates in rows]


def latest_good(session: Session) -> list[StoredReading]:
    """Each meter's newest GOOD interval reading (one indexed lookup per meter)."""
    newest = (
        select(IntervalReading.meter_id, func.max(IntervalReading.read_at).label("at"))
        .where(IntervalReading.quality == ReadingQuality.GOOD)
        .group_by(IntervalReading.meter_id)
        .subquery()
    )
    rows = session.execute(
        select(*READING_COLUMNS).join(
            newest,
            (IntervalReading.meter_id == newest.c.meter_id)
            & (IntervalReading.read_at == newest.c.at),
        )
    )
    return as_stored(rows)


def pack_rates(rates: dict[str, int] | None) -> list[int | None] | None:
    """Rate registers as stored: ``[rate_1, rate_2, rate_3, rate_4]`` (None where the meter has
    no such register): a third of the bytes of a keyed object, in every interval reading."""
    if not rates:
        return None
    return [rates.get(f"rate_{n}") for n in range(1, 5)]


def unpack_rates(stored: object) -> dict[str, int] | None:
    """The stored rate registers (a list, or the keyed object of earlier versions) by name."""
    if isinstance(stored, list):
        rates = {f"rate_{n}": v for n, v in enumerate(stored, 1) if isinstance(v, int)}
        return rates or None
    if isinstance(stored, dict):
        return {str(k): int(v) for k, v in stored.items()} or None
    return None


def max_units(track: MeterTrack, seconds: float) -> float:
    """The most a meter can count in ``seconds`` at its rating (with a 25 % margin)."""
    if track.utility is Utility.ELECTRICITY:
        rated_w = NOMINAL_VOLTAGE_V * (track.rated_current_a or 100)
        return 1.25 * rated_w * seconds / 3600 + 1
    return 1.25 * MAX_FLOW_LPS * seconds + 1


class ReadingStore:
    def __init__(self, interval_s: int = DEFAULT_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self.tracks: dict[int, MeterTrack] = {}

    def load(self, session: Session) -> None:
        """Remember every meter in service and its last stored register (after a restart)."""
        self.tracks.clear()
        self.refresh(session)

    def refresh(self, session: Session) -> tuple[list[int], list[int]]:
        """Forget meters removed since (a replaced meter still polled is ignored, never marked
        active again), take up meters added since and the rated current of every meter (what
        the plausibility check measures a jump against); returns the ids added and removed."""
        alarmed = set(
            session.scalars(
                select(Alarm.meter_id).where(
                    Alarm.kind == AlarmKind.METER_OFFLINE, Alarm.state != AlarmState.CLEARED
                )
            )
        )
        in_service = {
            meter_id: MeterTrack(
                meter_id,
                utility,
                rated,
                offline=status is MeterStatus.OFFLINE,
                # Offline without an alarm: its line was down when the last run ended.
                offline_by_line=status is MeterStatus.OFFLINE and meter_id not in alarmed,
            )
            for meter_id, utility, rated, status in session.execute(
                select(Meter.id, Meter.utility, Meter.rated_current_a, Meter.status).where(
                    Meter.removed_at.is_(None)
                )
            )
        }
        removed = sorted(set(self.tracks) - in_service.keys())
        for meter_id in removed:
            del self.tracks[meter_id]
        for meter_id, kept in self.tracks.items():  # a rating changed meanwhile (a new profile)
            kept.rated_current_a = in_service[meter_id].rated_current_a
        added = [meter_id for meter_id in in_service if meter_id not in self.tracks]
        for meter_id in added:
            self.tracks[meter_id] = in_service[meter_id]
        if not added:
            return added, removed
        wanted = set(added)
        for reading in latest_good(session):
            track = self.tracks.get(reading.meter_id)
            if track is not None and reading.meter_id in wanted:
                track.last_units = reading.units
                track.last_units_at = reading.read_at
                track.last_slot = int(reading.read_at.timestamp()) // self.interval_s
                track.stored_units, track.stored_at = reading.units, reading.read_at
        return added, removed

    def store(self, session: Session, snapshots: list[Snapshot]) -> BatchResult:
        result = BatchResult()
        seen: dict[int, dict[str, object]] = {}
        for snapshot in snapshots:
            track = self.tracks.get(snapshot.meter_id)
            if track is None:
                continue
            if snapshot.quality is Quality.FAILED:
                if not snapshot.status.get(OFFLINE):
                    continue
                if snapshot.status.get(LINE_DOWN):
                    if not track.offline:
                        self._mark_offline(session, track)
                        track.offline_by_line = True
                elif not track.offline or track.offline_by_line:
                    self._went_offline(session, track, snapshot)
                continue
            if track.offline:
                self._came_back(session, track)
            row: dict[str, object] = {
                "id": snapshot.meter_id,
                "last_seen_at": snapshot.wall_time.astimezone(UTC),
                "status": MeterStatus.ACTIVE,
            }
            supply = (
                snapshot.relay_closed if snapshot.relay_closed is not None else snapshot.valve_open
            )
            if supply is not None:
                row["relay_closed"] = supply
                row["relay_verified_at"] = row["last_seen_at"]
            seen[snapshot.meter_id] = row
            self._register(session, track, snapshot, result)
        if seen:
            _mark_seen(session, list(seen.values()))
            result.seen = len(seen)
        if result.stored:
            insert_rows(
                session,
                IntervalReading,
                [
                    {
                        "meter_id": r.meter_id,
                        "read_at": r.read_at,
                        "register_units": r.units,
                        "rate_registers": pack_rates(r.rates),
                        "quality": ReadingQuality.GOOD,
                    }
                    for r in result.stored
                ],
            )
            add_pairs(session, result.pairs)
        return result

    def _register(
        self, session: Session, track: MeterTrack, snapshot: Snapshot, result: BatchResult
    ) -> None:
        units = units_of(snapshot, track.utility)
        if units is None:
            return
        slot = int(snapshot.wall_time.timestamp()) // self.interval_s
        if track.last_units is not None:
            delta = units - track.last_units
            elapsed = (
                (snapshot.wall_time - track.last_units_at).total_seconds()
                if track.last_units_at is not None
                else float(self.interval_s)
            )
            problem = None
            if delta < 0:
                problem = f"register went backwards from {track.last_units} to {units}"
            elif delta > max_units(track, max(elapsed, 1.0)):
                problem = (
                    f"register jumped by {delta} in {elapsed:.0f} s, beyond the meter's rating"
                )
            if problem is not None:
                self._hold(session, track, snapshot, units, problem)
                result.held += 1
                return
            if delta:
                result.usage_units[track.meter_id] = (
                    result.usage_units.get(track.meter_id, 0) + delta
                )
        track.last_units = units
        track.last_units_at = snapshot.wall_time
        if slot != track.last_slot:
            rates = _rates(snapshot)
            result.stored.append(StoredReading(track.meter_id, snapshot.wall_time, units, rates))
            if track.stored_units is not None and track.stored_at is not None:
                result.pairs.append(
                    UsagePair(
                        track.meter_id,
                        track.utility,
                        track.stored_at,
                        track.stored_units,
                        snapshot.wall_time,
                        units,
                    )
                )
            track.stored_units, track.stored_at = units, snapshot.wall_time
            track.last_slot = slot
            result.readings += 1

    def _mark_offline(self, session: Session, track: MeterTrack) -> None:
        track.offline = True
        session.execute(
            update(Meter)
            .where(Meter.id == track.meter_id, Meter.removed_at.is_(None))
            .values(status=MeterStatus.OFFLINE)
        )

    def _went_offline(self, session: Session, track: MeterTrack, snapshot: Snapshot) -> None:
        self._mark_offline(session, track)
        track.offline_by_line = False
        session.add(
            Alarm(
                kind=AlarmKind.METER_OFFLINE,
                severity=AlarmSeverity.CRITICAL,
                meter_id=track.meter_id,
                raised_at=datetime.now(UTC),
                message=f"Meter offline: {snapshot.error or 'no reply'}.",
                evidence={"last_error": snapshot.error},
            )
        )

    def _came_back(self, session: Session, track: MeterTrack) -> None:
        track.offline = False
        track.offline_by_line = False
        now = datetime.now(UTC)
        for alarm in session.scalars(
            select(Alarm).where(
                Alarm.meter_id == track.meter_id,
                Alarm.kind == AlarmKind.METER_OFFLINE,
                Alarm.state != AlarmState.CLEARED,
            )
        ):
            alarm.state = AlarmState.CLEARED
            alarm.cleared_at = now

    def _hold(
        self, session: Session, track: MeterTrack, snapshot: Snapshot, units: int, problem: str
    ) -> None:
        log.warning("meter %s: %s; reading held, not billed", track.meter_id, problem)
        session.add(
            IntervalReading(
                meter_id=track.meter_id,
                read_at=snapshot.wall_time,
                register_units=units,
                quality=ReadingQuality.HELD,
            )
        )
        session.add(
            Alarm(
                kind=AlarmKind.IMPLAUSIBLE_READING,
                severity=AlarmSeverity.WARNING,
                meter_id=track.meter_id,
                message=f"Implausible reading: {problem}.",
                evidence={"previous_units": track.last_units, "units": units},
                raised_at=datetime.now(UTC),
            )
        )


def _rates(snapshot: Snapshot) -> dict[str, int] | None:
    rates = {
        f"rate_{n}": round(value * 1000)
        for n, value in enumerate(
            (
                snapshot.energy_rate_1_kwh,
                snapshot.energy_rate_2_kwh,
                snapshot.energy_rate_3_kwh,
                snapshot.energy_rate_4_kwh,
            ),
            1,
        )
        if value is not None
    }
    return rates or None


def _mark_seen(session: Session, rows: list[dict[str, object]]) -> None:
    """Each meter's last-seen time (and relay state, when read), in two multi-row UPDATEs. A
    meter retired or replaced since its poll stays removed: only meters in service are marked
    active (the poll may have been on the wire while the technician retired it)."""
    meters = cast(Table, Meter.__table__)
    for with_supply in (True, False):
        batch = [r for r in rows if ("relay_closed" in r) is with_supply]
        if not batch:
            continue
        values: dict[str, object] = {
            "last_seen_at": bindparam("seen"),
            "status": MeterStatus.ACTIVE,
        }
        if with_supply:
            values |= {"relay_closed": bindparam("closed"), "relay_verified_at": bindparam("seen")}
        session.execute(
            update(meters)
            .where(meters.c.id == bindparam("mid"), meters.c.removed_at.is_(None))
            .values(values),
            [
                {"mid": r["id"], "seen": r["last_seen_at"]}
                | ({"closed": r["relay_closed"]} if with_supply else {})
                for r in batch
            ],
        )
