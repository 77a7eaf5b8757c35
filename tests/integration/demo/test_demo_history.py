"""The demo's past: hourly readings that the history bars show, that the simulated meters carry
on from, and that billing never charges."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.demo.history import seed_demo_history
from app.demo.site import DemoSpec, seed_demo_site
from app.hardware.bus_worker import PollPolicy
from app.queries.history import (
    HistoryTarget,
    Resolution,
    TargetKind,
    energy_history,
)
from app.runtime.runtime import Runtime, RuntimeOptions
from app.store.database import Database
from app.store.models import IntervalReading, LedgerEntry, Meter, RatingState, Site, UsageCharge
from app.vocabulary import LedgerKind, ReadingQuality, Utility

SMALL = DemoSpec(buildings=2, floors=1, rooms_per_floor=4)
RATE_PROFILES = {"dlt645-2007", "acrel-ddsy1352"}


def _readings(db: Database) -> dict[int, list[IntervalReading]]:
    by_meter: dict[int, list[IntervalReading]] = defaultdict(list)
    with db.session() as session:
        for reading in session.scalars(
            select(IntervalReading).order_by(IntervalReading.meter_id, IntervalReading.read_at)
        ):
            by_meter[reading.meter_id].append(reading)
    return by_meter


def test_every_meter_gets_a_reading_on_every_hour_of_the_past_days(db: Database) -> None:
    before = datetime.now(UTC)
    summary = seed_demo_site(db, DemoSpec(2, 1, 4, history_days=2))
    assert summary.readings == summary.meters * 49
    with db.session() as session:
        profiles = dict(session.execute(select(Meter.id, Meter.profile)).all())
    by_meter = _readings(db)
    assert set(by_meter) == set(profiles)
    for meter_id, readings in by_meter.items():
        times = [r.read_at for r in readings]
        assert times[-1] == before.replace(minute=0, second=0, microsecond=0) or (
            times[-1] > before - timedelta(hours=1)
        )
        assert all(t.minute == 0 and t.second == 0 for t in times)
        assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(times))
        registers = [r.register_units for r in readings]
        assert registers == sorted(registers)
        assert registers[-1] > registers[0]
        assert all(r.quality is ReadingQuality.GOOD for r in readings)
        for reading in readings:
            rates = reading.rate_registers
            if profiles[meter_id] in RATE_PROFILES:
                assert isinstance(rates, list)
                assert len(rates) == 4
                assert abs(sum(r or 0 for r in rates) - reading.register_units) <= 40
            else:
                assert rates is None


def test_no_history_unless_asked_and_a_bad_number_of_days_is_refused(db: Database) -> None:
    assert seed_demo_site(db, SMALL).readings == 0
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(IntervalReading)) == 0
    with pytest.raises(ValueError, match="history days must be between 0 and 92"):
        DemoSpec(history_days=93).check()


def test_the_history_bars_show_a_plausible_yesterday(db: Database) -> None:
    seed_demo_site(db, DemoSpec(2, 2, 10, history_days=3))
    with db.session() as session:
        zone = ZoneInfo(session.scalar(select(Site.timezone)) or "UTC")
    yesterday = datetime.now(zone).date() - timedelta(days=1)
    target = HistoryTarget(TargetKind.SITE, None, Utility.ELECTRICITY)
    bars = energy_history(db, target, yesterday, yesterday, Resolution.HOUR)
    assert len(bars.units) == 24
    assert all(c == pytest.approx(1.0) for c in bars.coverage)
    assert not any(bars.estimated)
    assert all(u > 0 for u in bars.units)
    evening = sum(bars.units[19:22]) / 3
    night = sum(bars.units[2:5]) / 3
    assert evening > 2 * night
    site_water = HistoryTarget(TargetKind.SITE, None, Utility.WATER)
    assert energy_history(db, site_water, yesterday, yesterday, Resolution.DAY).units[0] > 0


@pytest.mark.parametrize("migrated_url", ["sqlite"], indirect=True)
def test_the_simulated_meters_carry_on_from_the_past_which_is_never_charged(db: Database) -> None:
    seed_demo_site(db, DemoSpec(1, 1, 2))
    seeded_end = datetime.now(UTC) - timedelta(hours=1)
    with db.transaction() as session:
        zone = ZoneInfo(session.scalar(select(Site.timezone)) or "UTC")
        seed_demo_history(session, zone, seeded_end, days=1)
    last_seeded = {m: rs[-1] for m, rs in _readings(db).items()}
    end = max(r.read_at for r in last_seeded.values())
    runtime = Runtime(db, RuntimeOptions(poll=PollPolicy(cycle_pause_s=0.2), posting_s=0.5))
    runtime.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            with db.session() as session:
                fresh = session.scalar(
                    select(func.count(func.distinct(IntervalReading.meter_id))).where(
                        IntervalReading.read_at > end
                    )
                )
            if fresh == len(last_seeded):
                break
            assert time.monotonic() < deadline, "not every meter was read within a minute"
            time.sleep(0.2)
        time.sleep(1.0)  # a posting falls due meanwhile
    finally:
        runtime.stop()
    with db.session() as session:
        charges = session.scalar(select(func.count()).select_from(UsageCharge))
        consumption = session.scalars(
            select(LedgerEntry.created_at).where(LedgerEntry.kind == LedgerKind.CONSUMPTION)
        ).all()
        states = dict(session.execute(select(RatingState.meter_id, RatingState.last_read_at)).all())
    for meter_id, readings in _readings(db).items():
        live = [r for r in readings if r.read_at > end]
        first = live[0]
        seeded = last_seeded[meter_id]
        assert first.quality is ReadingQuality.GOOD, "the live meter must continue the past"
        assert first.register_units >= seeded.register_units
        hours = (first.read_at - seeded.read_at).total_seconds() / 3600
        assert first.register_units - seeded.register_units < 40 * 230 * hours + 1
        assert states[meter_id] > end  # billing starts after the seeded past
    assert charges == 0 or all(at > end for at in consumption)


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 3, 30, 3, 30, tzinfo=ZoneInfo("Europe/Berlin")),  # clocks went forward
        datetime(2026, 10, 26, 3, 30, tzinfo=ZoneInfo("Europe/Berlin")),  # and back
    ],
)
def test_the_readings_stay_an_hour_apart_across_a_daylight_saving_change(
    db: Database, now: datetime
) -> None:
    seed_demo_site(db, DemoSpec(1, 1, 2))
    with db.transaction() as session:
        seed_demo_history(session, ZoneInfo("Europe/Berlin"), now, days=2)
    for readings in _readings(db).values():
        times = [r.read_at for r in readings]
        assert len(times) == 49
        assert times[-1] == now.replace(minute=0)
        assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(times))
