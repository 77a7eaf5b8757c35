"""Migration 0010 fills the meters' daily rollup from the interval readings already stored, by
the rules the engine adds to it afterwards: per site-local day, register differences of
readings that are not held, times the multiplier, a pair across midnight split exactly, a
register that went backwards counting nothing; the same rows ``add_readings`` writes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import delete, insert, select

from app.services.usage_days import add_readings
from app.store.database import Database
from app.store.migrate import alembic_config, upgrade
from app.store.models import Building, Bus, DailyUsage, IntervalReading, Meter, Room, Site
from app.vocabulary import MeterStatus, ReadingQuality, Utility


@pytest.fixture
def at_0009(db_url: str) -> Iterator[Database]:
    db = Database(db_url)
    config = alembic_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0009")
    yield db
    db.dispose()


def utc(day: int, hour: int, minute: int) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


# Shanghai is UTC+8: local midnight of 2026-12-01 is 2026-11-30 16:00 UTC.
POWER = [  # (read at, register Wh, quality)
    (utc(30, 15, 30), 1_000_000, ReadingQuality.GOOD),  # 23:30 local
    (utc(30, 15, 45), 1_000_300, ReadingQuality.GOOD),
    (utc(30, 16, 0), 900_000, ReadingQuality.HELD),  # implausible: never paired
    (utc(30, 16, 15), 1_001_301, ReadingQuality.GOOD),  # across midnight: 1001 Wh in 30 min
    (utc(30, 17, 0), 1_001_000, ReadingQuality.ESTIMATED),  # went backwards: that pair nothing
    (utc(30, 18, 0), 1_002_000, ReadingQuality.GOOD),
]
WATER = [  # 18:00 to 04:00 local: 6 of 10 hours on the 30th
    (utc(30, 10, 0), 40_000, ReadingQuality.GOOD),
    (utc(30, 20, 0), 40_123, ReadingQuality.GOOD),
]


def seed(db: Database) -> tuple[int, int]:
    """A site in Shanghai with an electricity meter (multiplier 2) and a water meter and
    their readings, written at revision 0009."""
    with db.engine.begin() as conn:

        def new(model: type, **values: object) -> int:
            table = model.__table__  # type: ignore[attr-defined]
            return int(
                conn.execute(insert(table).values(**values).returning(table.c.id)).scalar_one()
            )

        site = new(Site, name="S", timezone="Asia/Shanghai", currency="CNY")
        building = new(Building, site_id=site, code="A", name="A", floors=1)
        room = new(
            Room, building_id=building, floor=1, number="101", label="A-101", capacity=1, note=""
        )
        bus = new(
            Bus,
            name="line",
            url="sim://x",
            baudrate=9600,
            bytesize=8,
            parity="N",
            stopbits=1,
            timeout_ms=300,
            retries=1,
            enabled=True,
        )
        meters = []
        for serial, utility, multiplier, readings in (
            ("E1", Utility.ELECTRICITY, 2, POWER),
            ("W1", Utility.WATER, 1, WATER),
        ):
            meter = new(
                Meter,
                serial=serial,
                utility=utility,
                profile="p",
                bus_id=bus,
                address=serial,
                room_id=room,
                multiplier=multiplier,
                status=MeterStatus.ACTIVE,
                installed_at=utc(1, 0, 0),
            )
            meters.append(meter)
            for at, units, quality in readings:
                conn.execute(
                    insert(IntervalReading.__table__).values(
                        meter_id=meter, read_at=at, register_units=units, quality=quality
                    )
                )
    return meters[0], meters[1]


def rollup(db: Database) -> dict[tuple[int, str], tuple[int, float | None]]:
    with db.session() as session:
        return {
            (row.meter_id, row.day): (row.units, row.peak_power_w)
            for row in session.scalars(select(DailyUsage))
        }


def test_the_rollup_is_filled_from_the_readings_on_local_days(at_0009: Database) -> None:
    db = at_0009
    power, water = seed(db)
    upgrade(db)
    filled = rollup(db)
    assert filled == {
        # 300 Wh x 2 in a quarter hour (2400 W); 1001 Wh x 2 over 30 minutes (4004 W) split
        # 15 / 15 minutes; backwards to the estimated reading: nothing; from it 1000 Wh x 2
        # in an hour (2000 W).
        (power, "2026-11-30"): (600 + 1001, pytest.approx(4004.0)),
        (power, "2026-12-01"): (1001 + 2000, pytest.approx(4004.0)),
        # 123 litres: 73.8 and 49.2, the unit left over to the larger remainder.
        (water, "2026-11-30"): (74, None),
        (water, "2026-12-01"): (49, None),
    }
    # The engine's path for readings stored elsewhere writes the same rows.
    with db.transaction() as session:
        session.execute(delete(DailyUsage))
        rows = session.execute(
            select(
                IntervalReading.meter_id, IntervalReading.read_at, IntervalReading.register_units
            )
            .where(IntervalReading.quality != ReadingQuality.HELD)
            .order_by(IntervalReading.read_at)
        ).all()
        for row in rows:
            add_readings(session, [(row[0], row[1], row[2])])
    assert rollup(db) == filled
