"""The energy report agrees with the meters' registers: readings fed through the real engine
every 6 hours over two weeks; the report of the second week holds exactly the register
differences of that week, per room, floor, building, day and month, narrowed to a building by
its scope, compared with the week before, with the rooms that used nothing or very little
flagged; groupings it does not have are refused with the ones it has."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.hardware.snapshot import Quality, Snapshot
from app.queries.report_table import ReportTable
from app.queries.reports.energy import LOW_USE, ZERO_USE, energy_report
from app.queries.reports.period import Period
from app.queries.reports.revenue import GroupingRefused
from app.queries.reports.scope import Scope
from app.runtime.engine import Engine
from app.services.operators import login
from app.services.reports import ReportRefused, run_report
from app.store.database import Database
from app.store.models import Building, Meter, Room
from app.vocabulary import Role, Utility

ZONE = ZoneInfo("Asia/Shanghai")  # the demo site's
START = datetime(2026, 11, 2, tzinfo=ZONE)  # a Monday, local midnight
STEP = timedelta(hours=6)
STEPS = 14 * 4  # two weeks
WEEK = Period(date(2026, 11, 9), date(2026, 11, 15))
BEFORE = Period(date(2026, 11, 2), date(2026, 11, 8))
# Wh per 6 hours of the electricity meters, in the order of their ids (first week: half).
POWER_RATES = (0, 40, 2000, 3000, 2500, 1800)


class Fed:
    """Every meter's register at each local moment fed (Wh or litres), and where it is."""

    def __init__(self) -> None:
        self.registers: dict[int, dict[datetime, int]] = {}
        self.utility: dict[int, Utility] = {}
        self.room: dict[int, str] = {}
        self.building: dict[int, str] = {}

    def used(self, meter_ids: list[int], first: datetime, last: datetime) -> int:
        return sum(self.registers[m][last] - self.registers[m][first] for m in meter_ids)

    def meters(self, utility: Utility, building: str | None = None) -> list[int]:
        return [
            m
            for m, u in self.utility.items()
            if u is utility and (building is None or self.building[m] == building)
        ]


@pytest.fixture
def fed(db: Database) -> Fed:
    seed_demo_site(db, DemoSpec(buildings=2, floors=1, rooms_per_floor=3))
    out = Fed()
    with db.session() as session:
        for meter_id, utility, label, code in session.execute(
            select(Meter.id, Meter.utility, Room.label, Building.code)
            .join(Room, Room.id == Meter.room_id)
            .join(Building, Building.id == Room.building_id)
            .order_by(Meter.id)
        ):
            out.utility[meter_id], out.room[meter_id], out.building[meter_id] = (
                utility,
                label,
                code,
            )
    power = out.meters(Utility.ELECTRICITY)
    assert len(power) == len(POWER_RATES)
    rate = {m: POWER_RATES[i] for i, m in enumerate(power)}
    rate |= {m: 30 + 7 * i for i, m in enumerate(out.meters(Utility.WATER))}
    engine = Engine(db)
    engine.load()
    units = {m: 100_000 + 1000 * m for m in out.utility}
    for n in range(STEPS + 1):
        at = START + n * STEP
        snapshots = []
        for meter_id, utility in out.utility.items():
            if n:  # uneven use: more by day, half of it in the first week
                step_use = rate[meter_id] * (1 + n % 2) // (2 if n <= 28 else 1)
                units[meter_id] += step_use
            out.registers.setdefault(meter_id, {})[at] = units[meter_id]
            value = units[meter_id] / 1000
            snapshots.append(
                Snapshot(
                    meter_id,
                    "1",
                    at.timestamp(),
                    at.astimezone(UTC),
                    Quality.GOOD,
                    energy_import_kwh=value if utility is Utility.ELECTRICITY else None,
                    volume_m3=value if utility is Utility.WATER else None,
                )
            )
        assert engine.process(snapshots).readings == len(snapshots)
    return out


def kwh(units: int) -> Decimal:
    return Decimal(units) / 1000


def by_label(table: ReportTable, key: str) -> dict[str, dict[str, object]]:
    keys = [column.key for column in table.columns]
    return {str(row[0]): dict(zip(keys, row, strict=True)) for row in table.rows}


def test_totals_are_the_register_differences_of_the_period(db: Database, fed: Fed) -> None:
    first, last = START + timedelta(days=7), START + timedelta(days=14)
    table = energy_report(db, WEEK, Scope(), "room")
    totals = dict(zip([c.key for c in table.columns], table.totals or (), strict=True))
    assert totals["electricity_kwh"] == kwh(fed.used(fed.meters(Utility.ELECTRICITY), first, last))
    assert totals["water_m3"] == kwh(fed.used(fed.meters(Utility.WATER), first, last))
    rows = by_label(table, "room")
    for meter_id in fed.meters(Utility.ELECTRICITY):
        assert rows[fed.room[meter_id]]["electricity_kwh"] == kwh(fed.used([meter_id], first, last))
    # Top consumers first.
    used = [row[1] for row in table.rows]
    assert used == sorted(used, reverse=True)
    for grouping in ("floor", "building", "day", "month"):
        other = energy_report(db, WEEK, Scope(), grouping)
        assert other.totals is not None
        assert other.totals[other.column("electricity_kwh")] == totals["electricity_kwh"]
        assert other.totals[other.column("water_m3")] == totals["water_m3"]


def test_per_day_each_day_holds_its_own_differences(db: Database, fed: Fed) -> None:
    table = energy_report(db, WEEK, Scope(), "day")
    assert [row[0] for row in table.rows] == WEEK.days
    power = fed.meters(Utility.ELECTRICITY)
    for offset, row in enumerate(table.rows):
        first = START + timedelta(days=7 + offset)
        assert row[1] == kwh(fed.used(power, first, first + timedelta(days=1)))
    month = energy_report(db, Period(date(2026, 11, 1), date(2026, 12, 31)), Scope(), "month")
    assert [row[0] for row in month.rows] == ["2026-11", "2026-12"]
    everything = fed.used(power, START, START + STEPS * STEP)
    assert month.rows[0][1] == kwh(everything)
    assert month.rows[1][1] == Decimal("0.000")


def test_a_building_scope_reports_its_rooms_only(db: Database, fed: Fed) -> None:
    first, last = START + timedelta(days=7), START + timedelta(days=14)
    table = energy_report(db, WEEK, Scope(building="B"), "room")
    rooms_of_b = {fed.room[m] for m in fed.meters(Utility.ELECTRICITY, "B")}
    assert set(by_label(table, "room")) == rooms_of_b
    assert table.totals is not None
    assert table.totals[table.column("electricity_kwh")] == kwh(
        fed.used(fed.meters(Utility.ELECTRICITY, "B"), first, last)
    )
    assert table.subtitle == "Building B"
    buildings = energy_report(db, WEEK, Scope(building="B"), "building")
    assert len(buildings.rows) == 1


def test_the_previous_period_and_the_change(db: Database, fed: Fed) -> None:
    table = energy_report(db, WEEK, Scope(), "room")
    rows = by_label(table, "room")
    middle = START + timedelta(days=7)
    week, before = (middle, middle + timedelta(days=7)), (START, middle)
    for meter_id in fed.meters(Utility.ELECTRICITY):
        now, then = fed.used([meter_id], *week), fed.used([meter_id], *before)
        row = rows[fed.room[meter_id]]
        assert row["electricity_previous_kwh"] == kwh(then)
        if then:
            expected = (Decimal(now - then) * 100 / then).quantize(Decimal("0.1"))
            assert row["electricity_change"] == expected
            assert expected > 0  # the second week used twice the first
        else:
            assert row["electricity_change"] is None
    assert any("2026-11-02 to 2026-11-08" in note for note in table.notes)
    building = energy_report(db, WEEK, Scope(), "building")
    keys = {column.key for column in building.columns}
    assert {"electricity_previous_kwh", "electricity_change", "water_change"} <= keys
    assert "note" not in keys


def test_rooms_of_zero_or_low_use_are_flagged(db: Database, fed: Fed) -> None:
    table = energy_report(db, WEEK, Scope(), "room")
    rows = by_label(table, "room")
    power = fed.meters(Utility.ELECTRICITY)
    assert rows[fed.room[power[0]]]["note"] == ZERO_USE
    assert rows[fed.room[power[1]]]["note"] == LOW_USE
    assert [rows[fed.room[m]]["note"] for m in power[2:]] == [None] * 4
    assert table.chart is not None
    assert table.chart.series == ("electricity_kwh",)


def test_groupings_are_checked(db: Database, fed: Fed) -> None:
    with pytest.raises(GroupingRefused, match="groups by room, floor, building, day, month"):
        energy_report(db, WEEK, Scope(), "shift")
    office = login(db, Role.OFFICE.value, DEMO_PASSWORD)
    assert run_report(db, office, "energy", WEEK, Scope(), "floor").name == "energy"
    assert run_report(db, office, "energy", WEEK, Scope()).title.startswith("Energy by room")
    with pytest.raises(ReportRefused, match="the energy report groups by room"):
        run_report(db, office, "energy", WEEK, Scope(), "method")
    with pytest.raises(ReportRefused, match="the revenue report groups by day"):
        run_report(db, office, "revenue", WEEK, Scope(), "room")
    with pytest.raises(ReportRefused, match="the arrears report has no groupings"):
        run_report(db, office, "arrears", WEEK, Scope(), "room")
