"""History bars: energy or volume per site-local hour or day from stored interval readings, on
SQLite and PostgreSQL; and the pure bucket and spreading rules they rest on."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import select, update

from app.demo.site import DemoSpec, seed_demo_site
from app.queries.history import (
    HistoryRefused,
    HistoryTarget,
    Resolution,
    TargetKind,
    bucket_edges,
    energy_history,
    history_targets,
    spread_units,
    up_to_now,
)
from app.services.meter_replacement import replace_meter
from app.store.database import Database
from app.store.models import Building, IntervalReading, Meter, Room
from app.vocabulary import ReadingQuality, Utility

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the demo site's zone: UTC+8, no daylight saving
DAY = date(2026, 3, 2)
# Building A, floor 1, rooms A-101..A-104: electricity meters EA01001..EA01004; even rooms also
# have water meters (WA01002, WA01004). Building B likewise (EB01001...).
SPEC = DemoSpec(buildings=2, floors=1, rooms_per_floor=4)


def local(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI) + timedelta(
        hours=hour, minutes=minute
    )


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db, SPEC)
    return db


def meter_id(db: Database, serial: str) -> int:
    with db.session() as session:
        found = session.scalar(select(Meter.id).where(Meter.serial == serial))
        assert found is not None
        return found


def room_id(db: Database, label: str) -> int:
    with db.session() as session:
        found = session.scalar(select(Room.id).where(Room.label == label))
        assert found is not None
        return found


def building_id(db: Database, code: str) -> int:
    with db.session() as session:
        found = session.scalar(select(Building.id).where(Building.code == code))
        assert found is not None
        return found


def store(
    db: Database,
    serial: str,
    readings: list[tuple[datetime, int]],
    quality: ReadingQuality = ReadingQuality.GOOD,
) -> None:
    ident = meter_id(db, serial)
    with db.transaction() as session:
        session.add_all(
            IntervalReading(meter_id=ident, read_at=at, register_units=units, quality=quality)
            for at, units in readings
        )


def quarter_hours(start: datetime, registers: list[int]) -> list[tuple[datetime, int]]:
    return [(start + timedelta(minutes=15 * i), units) for i, units in enumerate(registers)]


def hourly(db: Database, target: HistoryTarget, first: date = DAY, last: date = DAY):  # type: ignore[no-untyped-def]
    return energy_history(db, target, first, last, Resolution.HOUR)


# -- pure rules ----------------------------------------------------------------------------------


def test_site_local_days_have_24_hours_and_start_at_local_midnight() -> None:
    edges = bucket_edges(DAY, DAY, SHANGHAI, Resolution.HOUR)
    assert len(edges) == 25
    assert edges[0] == datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
    assert edges[-1] == datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    assert bucket_edges(DAY, DAY + timedelta(days=2), SHANGHAI, Resolution.DAY) == [
        datetime(2026, 3, d, 16, 0, tzinfo=UTC) for d in (1, 2, 3, 4)
    ]


def test_a_daylight_saving_day_has_23_hours() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    spring = date(2026, 3, 29)
    hours = bucket_edges(spring, spring, berlin, Resolution.HOUR)
    assert len(hours) - 1 == 23
    days = bucket_edges(spring, spring + timedelta(days=1), berlin, Resolution.DAY)
    assert [(b - a).total_seconds() / 3600 for a, b in itertools.pairwise(days)] == [
        23,
        24,
    ]
    assert all(h.astimezone(berlin).minute == 0 for h in hours)


def test_a_backwards_range_is_refused() -> None:
    with pytest.raises(HistoryRefused, match="before it starts"):
        bucket_edges(DAY, DAY - timedelta(days=1), SHANGHAI, Resolution.DAY)


def test_pairs_are_spread_by_time_and_backwards_pairs_left_out() -> None:
    edges = np.array([0.0, 100.0, 200.0, 300.0, 400.0])
    times = np.array([50.0, 150.0, 250.0, 260.0, 350.0])
    registers = np.array([1000, 1200, 1400, 10, 100], dtype=np.int64)  # reset at 250 -> 260
    spread = spread_units(edges, times, registers, gap_s=150)
    # 50..150 = 200 shared half/half; 150..250 = 200 half/half; 250..260 reset: nothing;
    # 260..350 = 90: 40 before 300, 50 after. Nothing is known before 50 or after 350.
    assert spread.units.tolist() == [100.0, 200.0, 100.0 + 40.0, 50.0]
    assert spread.covered_s.tolist() == [50.0, 100.0, 50.0 + 40.0, 50.0]
    assert spread.resets == 1
    assert spread.gaps == 0
    assert not spread.estimated.any()


def test_a_long_gap_is_spread_and_flagged() -> None:
    edges = np.array([0.0, 3600.0, 7200.0, 10800.0])
    spread = spread_units(edges, np.array([0.0, 10800.0]), np.array([0, 3000], dtype=np.int64))
    assert spread.units.tolist() == [1000.0, 1000.0, 1000.0]
    assert spread.estimated.tolist() == [True, True, True]
    assert spread.gaps == 1


def test_one_reading_or_none_gives_nothing() -> None:
    edges = np.array([0.0, 10.0])
    for times in (np.zeros(0), np.array([5.0])):
        spread = spread_units(edges, times, np.zeros(times.size, dtype=np.int64))
        assert spread.units.tolist() == [0.0]
        assert spread.covered_s.tolist() == [0.0]


# -- from the database ---------------------------------------------------------------------------


def test_hourly_energy_of_a_meter(site: Database) -> None:
    # Hour h uses (h + 1) * 100 Wh, 25 per quarter; the day is read from 00:00 to 24:00.
    registers = [5000]
    for hour in range(24):
        for _ in range(4):
            registers.append(registers[-1] + (hour + 1) * 25)
    store(site, "EA01001", quarter_hours(local(DAY), registers))
    target = HistoryTarget(TargetKind.METER, meter_id(site, "EA01001"), Utility.ELECTRICITY)
    bars = hourly(site, target)
    assert bars.units == tuple(float((h + 1) * 100) for h in range(24))
    assert bars.amounts[0] == 0.1
    assert bars.amounts[23] == 2.4
    assert bars.total == 30.0  # 100 * (1 + ... + 24) Wh
    assert bars.unit == "kWh"
    assert bars.coverage == (1.0,) * 24
    assert bars.starts[0] == local(DAY)
    assert bars.starts[0].utcoffset() == timedelta(hours=8)
    assert bars.meters == 1
    assert (bars.resets, bars.gaps) == (0, 0)
    so_far = energy_history(site, target, DAY, DAY, Resolution.HOUR, now=local(DAY, 9, 30))
    assert so_far.units == bars.units[:10]  # asked at 09:30: the bars up to 09:00-10:00
    with pytest.raises(HistoryRefused, match="in the future"):
        energy_history(site, target, DAY, DAY, Resolution.HOUR, now=local(DAY) - timedelta(hours=1))


def test_daily_energy_with_a_reset_never_goes_negative(site: Database) -> None:
    # Hourly readings over three days, 100 Wh an hour; on day 2 at 12:00 the register is
    # reset to 0 (the pair 11:00 -> 12:00 is unknown, left out), then counts on.
    readings = []
    units = 0
    for hour in range(72 + 1):
        at = local(DAY, hour)
        if hour == 36:
            units = 0
        readings.append((at, units))
        units += 100
    store(site, "EB01001", readings)
    target = HistoryTarget(TargetKind.METER, meter_id(site, "EB01001"), Utility.ELECTRICITY)
    bars = energy_history(site, target, DAY, DAY + timedelta(days=2), Resolution.DAY)
    assert bars.units == (2400.0, 2300.0, 2400.0)
    assert bars.resets == 1
    assert all(u >= 0 for u in bars.units)
    assert bars.coverage[1] == pytest.approx(23 / 24)


def test_a_gap_is_shared_out_over_the_hours_it_spans(site: Database) -> None:
    store(site, "EA01002", [(local(DAY, 10), 1000), (local(DAY, 14), 1400)])
    target = HistoryTarget(TargetKind.METER, meter_id(site, "EA01002"), Utility.ELECTRICITY)
    bars = hourly(site, target)
    assert bars.units[10:14] == (100.0, 100.0, 100.0, 100.0)
    assert sum(bars.units) == 400.0
    assert bars.estimated[10:14] == (True,) * 4
    assert not any(bars.estimated[:10])
    assert bars.coverage[9] == 0.0  # nothing known before the first reading
    assert bars.gaps == 1


def test_readings_outside_the_range_pair_with_those_inside(site: Database) -> None:
    # One reading the evening before and one the morning after: the day gets its share.
    store(site, "EA01003", [(local(DAY, -6), 0), (local(DAY, 30), 3600)])
    target = HistoryTarget(TargetKind.METER, meter_id(site, "EA01003"), Utility.ELECTRICITY)
    bars = energy_history(site, target, DAY, DAY, Resolution.DAY)
    assert bars.units == (2400.0,)


def test_held_readings_are_not_used(site: Database) -> None:
    store(site, "EA01004", quarter_hours(local(DAY, 8), [0, 50, 100, 150, 200]))
    store(
        site, "EA01004", [(local(DAY, 8, 30) + timedelta(minutes=1), 999_999)], ReadingQuality.HELD
    )
    target = HistoryTarget(TargetKind.METER, meter_id(site, "EA01004"), Utility.ELECTRICITY)
    assert hourly(site, target).units[8] == 200.0


def test_the_multiplier_scales_the_register(site: Database) -> None:
    with site.transaction() as session:
        session.execute(update(Meter).where(Meter.serial == "EB01002").values(multiplier=30))
    store(site, "EB01002", [(local(DAY, 1), 10), (local(DAY, 2), 17)])
    target = HistoryTarget(TargetKind.METER, meter_id(site, "EB01002"), Utility.ELECTRICITY)
    assert hourly(site, target).units[1] == 210.0


def test_a_room_adds_its_old_and_new_meter_without_mixing_registers(site: Database) -> None:
    old = meter_id(site, "EB01003")
    store(site, "EB01003", [(local(DAY, 8), 50_000), (local(DAY, 9), 50_400)])
    with site.transaction() as session:
        replacement = replace_meter(
            session,
            old,
            final_reading=Decimal("50.600"),  # kWh: 200 Wh more in 09:00-09:30
            new_serial="EB01003-NEW",
            new_address="9",
            initial_reading=Decimal("0.000"),
            at=local(DAY, 9, 30).astimezone(UTC),
        )
    store(site, "EB01003-NEW", [(local(DAY, 10), 300), (local(DAY, 11), 1300)])
    room = HistoryTarget(TargetKind.ROOM, room_id(site, "B-103"), Utility.ELECTRICITY)
    bars = hourly(site, room)
    assert bars.units[8:11] == (400.0, 500.0, 1000.0)  # 09:00-10:00: 200 old + 300 new
    assert bars.total_units == 1900.0
    assert bars.meters == 2
    assert bars.resets == 0
    new_only = hourly(
        site, HistoryTarget(TargetKind.METER, replacement.new_meter_id, Utility.ELECTRICITY)
    )
    assert new_only.units[8:11] == (0.0, 300.0, 1000.0)
    assert new_only.coverage[9] == 1.0  # installed at 09:30 and read from then on


def test_a_building_sums_one_utility_only(site: Database) -> None:
    store(site, "EA01001", [(local(DAY, 0), 0), (local(DAY, 24), 2400)])
    store(site, "EA01004", [(local(DAY, 0), 0), (local(DAY, 24), 4800)])
    store(site, "EB01001", [(local(DAY, 0), 0), (local(DAY, 24), 99_000)])  # other building
    store(site, "WA01002", [(local(DAY, 0), 10_000), (local(DAY, 24), 10_750)])  # litres
    store(site, "WA01004", [(local(DAY, 0), 0), (local(DAY, 24), 250)])
    block_a = building_id(site, "A")
    power = energy_history(
        site,
        HistoryTarget(TargetKind.BUILDING, block_a, Utility.ELECTRICITY),
        DAY,
        DAY,
        Resolution.DAY,
    )
    assert power.units == (7200.0,)
    assert power.total == 7.2
    water = energy_history(
        site, HistoryTarget(TargetKind.BUILDING, block_a, Utility.WATER), DAY, DAY, Resolution.DAY
    )
    assert water.units == (1000.0,)
    assert water.total == 1.0
    assert water.unit == "m3"
    whole = energy_history(
        site, HistoryTarget(TargetKind.SITE, None, Utility.ELECTRICITY), DAY, DAY, Resolution.DAY
    )
    assert whole.units == (106_200.0,)
    # 2 of building A's 4 electricity meters were read: half of the meter-time is covered.
    assert power.coverage == (0.5,)


def test_a_meter_of_another_utility_or_unknown_is_refused(site: Database) -> None:
    water = meter_id(site, "WA01002")
    with pytest.raises(HistoryRefused, match="measures water"):
        hourly(site, HistoryTarget(TargetKind.METER, water, Utility.ELECTRICITY))
    with pytest.raises(HistoryRefused, match="No meter"):
        hourly(site, HistoryTarget(TargetKind.METER, 999_999, Utility.ELECTRICITY))


def test_too_many_bars_are_refused(site: Database) -> None:
    target = HistoryTarget(TargetKind.SITE, None, Utility.ELECTRICITY)
    with pytest.raises(HistoryRefused, match="too many"):
        energy_history(site, target, DAY, DAY + timedelta(days=400), Resolution.HOUR)


def test_no_site_no_history(db: Database) -> None:
    with pytest.raises(HistoryRefused, match="No site"):
        hourly(db, HistoryTarget(TargetKind.SITE, None, Utility.ELECTRICITY))


def test_targets_are_named(site: Database) -> None:
    targets = history_targets(site)
    assert [b.code for b in targets.buildings] == ["A", "B"]
    assert [r.label for r in targets.rooms][:4] == ["A-101", "A-102", "A-103", "A-104"]
    ea = next(m for m in targets.meters if m.serial == "EA01001")
    assert (ea.room_label, ea.building_code, ea.floor, ea.in_service) == ("A-101", "A", 1, True)
    assert targets.utilities == (Utility.ELECTRICITY, Utility.WATER)
    assert targets.today == datetime.now(SHANGHAI).date()  # the site's calendar, not this PC's


def test_bars_end_at_the_present() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 3, 2, 14, 20, tzinfo=zone)
    edges = bucket_edges(DAY, DAY, zone, Resolution.HOUR)
    kept = up_to_now(edges, now)
    assert len(kept) == 16  # 00:00 .. 15:00: the bar of 14:00 holds the present
    assert kept[-2] == datetime(2026, 3, 2, 14, 0, tzinfo=zone)
    with pytest.raises(HistoryRefused, match="in the future"):
        up_to_now(edges, datetime(2026, 3, 1, 23, 0, tzinfo=zone))
    on_the_hour = up_to_now(edges, datetime(2026, 3, 2, 10, 0, tzinfo=zone))
    assert on_the_hour[-1] == datetime(2026, 3, 2, 10, 0, tzinfo=zone)  # no empty 10:00 bar
