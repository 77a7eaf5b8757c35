"""The energy report's TOU period and tier columns: what the engine billed, per period (peak,
flat) and tier step, from the usage billed per day; the columns appear only where the scope's
tariffs had such periods or tiers, and their totals are what the postings billed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.demo.site import DemoSpec, seed_demo_site
from app.hardware.snapshot import Quality, Snapshot
from app.queries.report_table import ReportTable
from app.queries.reports.energy import energy_report
from app.queries.reports.energy_split import SPLIT_NOTE
from app.queries.reports.period import Period
from app.queries.reports.scope import Scope
from app.runtime.runtime import Runtime, RuntimeOptions
from app.store.database import Database
from app.store.field_lock import SoleLocks
from app.store.models import Account, Building, ChargeDay, Meter, Room
from app.vocabulary import Utility

ZONE = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 10)  # a Tuesday: peak 08:00-11:00, flat 11:00-18:00
T0 = datetime(2026, 11, 10, 9, 0, 5, tzinfo=ZONE).astimezone(UTC)
STEP = timedelta(minutes=15)


@pytest.fixture
def billed(db: Database) -> tuple[Database, Room]:
    """Room B's electricity (time of use) and water (three tiers) read from 09:00 to 11:45 and
    posted: peak, then flat; the water through all three tiers."""
    seed_demo_site(db, DemoSpec(buildings=2, floors=1, rooms_per_floor=2))
    with db.session() as session:
        meters = session.execute(
            select(Meter.id, Meter.utility, Room)
            .join(Room, Room.id == Meter.room_id)
            .join(Building, Building.id == Room.building_id)
            .where(Building.code == "B")
            .order_by(Room.id, Meter.id)
        ).all()
        room = next(r for _m, utility, r in meters if utility is Utility.WATER)
        ids = {utility: meter_id for meter_id, utility, r in meters if r.id == room.id}
        session.expunge(room)
    runtime = Runtime(db, RuntimeOptions(simulate=False), locks=SoleLocks())
    runtime.claim_field()
    runtime.engine.load()
    for n in range(12):
        at = T0 + n * STEP
        runtime.engine.process(
            [
                Snapshot(
                    ids[Utility.ELECTRICITY],
                    "1",
                    at.timestamp(),
                    at,
                    Quality.GOOD,
                    energy_import_kwh=1000 + 0.37 * n,
                    relay_closed=True,
                ),
                Snapshot(
                    ids[Utility.WATER],
                    "1",
                    at.timestamp(),
                    at,
                    Quality.GOOD,
                    volume_m3=50 + 1.25 * n,
                    valve_open=True,
                ),
            ]
        )
    with db.transaction() as session:
        runtime.billing.post(session)
    return db, room


def row_of(table: ReportTable, label: str) -> dict[str, object]:
    keys = [column.key for column in table.columns]
    (row,) = [row for row in table.rows if row[0] == label]
    return dict(zip(keys, row, strict=True))


def billed_units(db: Database, **where: object) -> Decimal:
    with db.session() as session:
        query = select(func.sum(ChargeDay.units)).join(Meter, Meter.id == ChargeDay.meter_id)
        for column, value in where.items():
            query = query.where(getattr(ChargeDay, column) == value)
        return Decimal(session.scalar(query) or 0) / 1000


def test_a_column_per_period_and_tier_billed_with_what_was_billed(
    billed: tuple[Database, Room],
) -> None:
    db, room = billed
    table = energy_report(db, Period(DAY, DAY), Scope(), "room")
    keys = [column.key for column in table.columns]
    assert keys[-1] == "note"  # the split columns come before the note
    split = [key for key in keys if "peak" in key or "flat" in key or "tier" in key]
    assert split == [
        "electricity_peak_kwh",
        "electricity_flat_kwh",
        "water_tier_1_m3",
        "water_tier_2_m3",
        "water_tier_3_m3",
    ]
    row = row_of(table, room.label)
    assert row["electricity_peak_kwh"] == billed_units(db, period="peak")
    assert row["electricity_flat_kwh"] == billed_units(db, period="flat")
    assert row["water_tier_1_m3"] == Decimal("6.000")  # the first step: 6 m3
    assert row["water_tier_2_m3"] == Decimal("6.000")
    assert row["water_tier_3_m3"] == Decimal("1.750")  # 13.75 m3 in all
    assert row["electricity_peak_kwh"] + row["electricity_flat_kwh"] == row["electricity_kwh"]
    totals = dict(zip(keys, table.totals, strict=True))
    assert totals["electricity_peak_kwh"] == row["electricity_peak_kwh"]  # the only room billed
    assert SPLIT_NOTE in table.notes


def test_by_day_and_by_building_the_same_periods_add_up(billed: tuple[Database, Room]) -> None:
    db, room = billed
    by_day = energy_report(db, Period(DAY, DAY), Scope(), "day")
    by_building = energy_report(db, Period(DAY, DAY), Scope(), "building")
    day_row = dict(zip([c.key for c in by_day.columns], by_day.rows[0], strict=True))
    assert day_row["electricity_peak_kwh"] == billed_units(db, period="peak")
    assert day_row["water_tier_3_m3"] == Decimal("1.750")
    with db.session() as session:
        name = session.scalar(select(Building.name).where(Building.id == room.building_id))
    building = row_of(by_building, str(name))
    assert building["electricity_flat_kwh"] == billed_units(db, period="flat")


def test_no_period_or_tier_columns_where_nothing_was_billed(
    billed: tuple[Database, Room],
) -> None:
    db, _room = billed
    quiet = Period(DAY - timedelta(days=3), DAY - timedelta(days=1))
    for by in ("room", "day"):
        table = energy_report(db, quiet, Scope(), by)
        assert not [c for c in table.columns if "peak" in c.key or "tier" in c.key]
        assert SPLIT_NOTE not in table.notes
    with db.session() as session:
        code = session.scalar(select(Building.code).where(Building.code != "B").limit(1))
        assert session.scalar(select(func.count()).select_from(Account)) > 0
    table = energy_report(db, Period(DAY, DAY), Scope(building=code), "room")
    assert not [c for c in table.columns if "peak" in c.key or "tier" in c.key]
