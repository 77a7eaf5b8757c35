"""The meters' daily rollup as the engine writes it: readings fed through the real engine and
reading store add exactly the register differences (times the multiplier) to the site-local
days, a pair across local midnight is split between the two days to the unit, held readings
add nothing, and readings stored by another path are added by ``add_readings``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select, update

from app.demo.site import DemoSpec, seed_demo_site
from app.hardware.snapshot import Quality, Snapshot
from app.runtime.engine import Engine
from app.services.usage_days import LocalDays, add_readings, pair_days, split_units
from app.store.database import Database
from app.store.models import DailyUsage, IntervalReading, Meter
from app.vocabulary import ReadingQuality, Utility

ZONE = ZoneInfo("Asia/Shanghai")  # the demo site's
STEP = timedelta(minutes=15)


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2))
    return db


def meter_of(db: Database, utility: Utility) -> int:
    with db.session() as session:
        meter_id = session.scalars(
            select(Meter.id).where(Meter.utility == utility).order_by(Meter.id)
        ).first()
    assert meter_id is not None
    return meter_id


def snap(meter_id: int, at: datetime, units: int, utility: Utility) -> Snapshot:
    """A GOOD snapshot of a register in Wh (electricity) or litres (water)."""
    if utility is Utility.ELECTRICITY:
        return Snapshot(
            meter_id, "1", at.timestamp(), at, Quality.GOOD, energy_import_kwh=units / 1000
        )
    return Snapshot(meter_id, "1", at.timestamp(), at, Quality.GOOD, volume_m3=units / 1000)


def engine(db: Database) -> Engine:
    running = Engine(db)
    running.load()
    return running


def days_of(db: Database, meter_id: int) -> dict[str, tuple[int, float | None]]:
    with db.session() as session:
        return {
            row.day: (row.units, row.peak_power_w)
            for row in session.scalars(
                select(DailyUsage).where(DailyUsage.meter_id == meter_id).order_by(DailyUsage.day)
            )
        }


def test_the_days_add_up_to_the_register_differences(site: Database) -> None:
    power, water = meter_of(site, Utility.ELECTRICITY), meter_of(site, Utility.WATER)
    start = datetime(2026, 11, 10, 20, 0, 0, tzinfo=ZONE).astimezone(UTC)
    running = engine(site)
    kwh, litres = 1_234_567, 45_000
    registers: list[tuple[datetime, int, int]] = []
    for n in range(24):  # 20:00 to 01:45 local: two days
        at = start + n * STEP
        registers.append((at, kwh, litres))
        running.process(
            [snap(power, at, kwh, Utility.ELECTRICITY), snap(water, at, litres, Utility.WATER)]
        )
        kwh += (97, 451, 733, 3)[n % 4]
        litres += (0, 12, 31)[n % 3]

    def expected(index: int) -> dict[str, int]:
        out: dict[str, int] = {}
        for (a_at, *a), (_b_at, *b) in pairwise(registers):
            day = a_at.astimezone(ZONE).date().isoformat()  # a pair ending at midnight is the day's
            out[day] = out.get(day, 0) + b[index] - a[index]
        return out

    assert {day: units for day, (units, _) in days_of(site, power).items()} == expected(0)
    assert {day: units for day, (units, _) in days_of(site, water).items()} == expected(1)
    # Peak demand: the highest average power of a quarter hour (733 Wh in 0.25 h), water none.
    assert max(peak or 0 for _, peak in days_of(site, power).values()) == 733 * 4
    assert all(peak is None for _, peak in days_of(site, water).values())


def test_a_pair_across_local_midnight_is_split_between_the_days_exactly(site: Database) -> None:
    power = meter_of(site, Utility.ELECTRICITY)
    before = datetime(2026, 11, 10, 23, 50, 0, tzinfo=ZONE)
    after = datetime(2026, 11, 11, 0, 20, 0, tzinfo=ZONE)  # a reading missed: 30 minutes
    running = engine(site)
    running.process([snap(power, before.astimezone(UTC), 500_000, Utility.ELECTRICITY)])
    running.process([snap(power, after.astimezone(UTC), 501_001, Utility.ELECTRICITY)])
    days = days_of(site, power)
    # 1001 Wh: 10 of 30 minutes before midnight is 333.67, after it 667.33: the unit left
    # over goes to the larger remainder.
    assert {day: units for day, (units, _) in days.items()} == {
        "2026-11-10": 334,
        "2026-11-11": 667,
    }
    assert days["2026-11-10"][1] == days["2026-11-11"][1] == pytest.approx(2002.0)


def test_held_readings_add_nothing(site: Database) -> None:
    power = meter_of(site, Utility.ELECTRICITY)
    start = datetime(2026, 11, 10, 9, 0, 5, tzinfo=ZONE).astimezone(UTC)
    running = engine(site)
    feed = [
        700_000,
        700_400,
        699_000,  # went backwards: held
        90_000_000,  # beyond the meter's rating: held
        700_900,
    ]
    held = 0
    for n, units in enumerate(feed):
        held += running.process([snap(power, start + n * STEP, units, Utility.ELECTRICITY)]).held
    assert held == 2
    with site.session() as session:
        assert (
            len(
                session.scalars(
                    select(IntervalReading.id).where(
                        IntervalReading.meter_id == power,
                        IntervalReading.quality == ReadingQuality.HELD,
                    )
                ).all()
            )
            == 2
        )
    assert days_of(site, power) == {"2026-11-10": (900, pytest.approx(1600.0))}


def test_the_meter_multiplier_is_applied(site: Database) -> None:
    power = meter_of(site, Utility.ELECTRICITY)
    with site.transaction() as session:
        session.execute(update(Meter).where(Meter.id == power).values(multiplier=40))
    start = datetime(2026, 11, 10, 9, 0, 5, tzinfo=ZONE).astimezone(UTC)
    running = engine(site)
    for n, units in enumerate((10_000, 10_025, 10_050)):
        running.process([snap(power, start + n * STEP, units, Utility.ELECTRICITY)])
    assert days_of(site, power) == {"2026-11-10": (50 * 40, pytest.approx(25 * 40 * 4.0))}


def test_after_a_restart_the_next_reading_counts_from_the_last_stored(site: Database) -> None:
    power = meter_of(site, Utility.ELECTRICITY)
    start = datetime(2026, 11, 10, 9, 0, 5, tzinfo=ZONE).astimezone(UTC)
    engine(site).process([snap(power, start, 5_000, Utility.ELECTRICITY)])
    engine(site).process([snap(power, start + STEP, 5_120, Utility.ELECTRICITY)])
    assert days_of(site, power)["2026-11-10"][0] == 120


def test_readings_stored_by_another_path_are_added_by_add_readings(db: Database) -> None:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2, history_days=2))
    with db.session() as session:  # the demo's past went in through add_readings already
        seeded = dict(
            session.execute(
                select(DailyUsage.meter_id, func.sum(DailyUsage.units)).group_by(
                    DailyUsage.meter_id
                )
            ).all()
        )
    with db.transaction() as session:
        session.execute(delete(DailyUsage))
        rows = session.execute(
            select(
                IntervalReading.meter_id, IntervalReading.read_at, IntervalReading.register_units
            )
        ).all()
        add_readings(session, [(m, at, units) for m, at, units in rows])
    firsts: dict[int, int] = {}
    lasts: dict[int, int] = {}
    for meter_id, _at, units in sorted(rows, key=lambda r: (r[0], r[1])):
        firsts.setdefault(meter_id, units)
        lasts[meter_id] = units
    for meter_id in firsts:
        total = sum(units for units, _ in days_of(db, meter_id).values())
        assert total == lasts[meter_id] - firsts[meter_id]
        assert seeded[meter_id] == total


@pytest.mark.parametrize(
    ("units", "weights", "parts"),
    [
        (1001, [10, 20], [334, 667]),
        (10, [1, 1, 1], [4, 3, 3]),
        (0, [5, 7], [0, 0]),
        (7, [0, 0], [0, 7]),
        (5, [0, 3], [0, 5]),
    ],
)
def test_split_units_sums_exactly(units: int, weights: list[int], parts: list[int]) -> None:
    assert split_units(units, weights) == parts
    assert sum(split_units(units, weights)) == units


def test_a_pair_over_a_daylight_saving_night_is_shared_by_local_days() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # 2026-10-25 has 25 hours
    start = datetime(2026, 10, 24, 12, 0, tzinfo=berlin).timestamp()
    end = datetime(2026, 10, 26, 12, 0, tzinfo=berlin).timestamp()
    shares = pair_days(start, end, 49_000, LocalDays(berlin))
    assert [(day, units) for day, units, _ in shares] == [
        (date(2026, 10, 24), 12_000),
        (date(2026, 10, 25), 25_000),
        (date(2026, 10, 26), 12_000),
    ]
