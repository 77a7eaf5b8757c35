"""The energy report's comparisons, from readings fed through the real engine at every local
midnight of October and November 2025 and of September to November 2026 (one reading pair
spans the months between; this year's use about twice last year's): the
same days a year earlier and the change by room, floor, building, day and month; a period of
whole months compared with as many whole months before (month on month); by month each month
against the whole month before, a month the period holds only part of against none; a 29
February by day against no day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.demo.site import DemoSpec, seed_demo_site
from app.hardware.snapshot import Quality, Snapshot
from app.queries.report_table import ReportTable
from app.queries.reports.energy import energy_report, previous_period, year_before
from app.queries.reports.period import Period
from app.queries.reports.scope import Scope
from app.runtime.engine import Engine
from app.store.database import Database
from app.store.models import Building, Meter, Room
from app.vocabulary import Utility

ZONE = ZoneInfo("Asia/Shanghai")  # the demo site's
# The local midnights fed: two stretches, each day's use known from the registers.
FED = (
    (date(2025, 10, 1), date(2025, 12, 1)),
    (date(2026, 9, 1), date(2026, 12, 1)),
)
NOVEMBER = Period.month(2026, 11)


class Fed:
    def __init__(self) -> None:
        self.registers: dict[int, dict[date, int]] = {}  # at each local midnight
        self.utility: dict[int, Utility] = {}
        self.room: dict[int, str] = {}
        self.building: dict[int, str] = {}

    def used(self, meters: list[int], period: Period) -> int:
        after = period.last + timedelta(days=1)
        return sum(self.registers[m][after] - self.registers[m][period.first] for m in meters)

    def meters(self, utility: Utility, building: str | None = None) -> list[int]:
        return [
            m
            for m, u in self.utility.items()
            if u is utility and building in (None, self.building[m])
        ]


@pytest.fixture
def fed(db: Database) -> Fed:
    seed_demo_site(db, DemoSpec(buildings=2, floors=1, rooms_per_floor=2))
    out = Fed()
    with db.session() as session:
        for meter_id, utility, label, code in session.execute(
            select(Meter.id, Meter.utility, Room.label, Building.code)
            .join(Room, Room.id == Meter.room_id)
            .join(Building, Building.id == Room.building_id)
            .order_by(Meter.id)
        ):
            out.utility[meter_id], out.room[meter_id] = utility, label
            out.building[meter_id] = code
    engine = Engine(db)
    engine.load()
    units = {m: 50_000 + 1000 * m for m in out.utility}
    days = [
        first + timedelta(days=n) for first, last in FED for n in range((last - first).days + 1)
    ]
    for day in days:
        at = datetime.combine(day, datetime.min.time(), ZONE)
        for meter_id, utility in out.utility.items():
            if day > days[0]:  # the day before's use: this year twice last year's, and uneven
                base = (1500 + 700 * meter_id) if utility is Utility.ELECTRICITY else 90
                units[meter_id] += base * (2 if day.year == 2026 else 1) + 13 * day.day
            out.registers.setdefault(meter_id, {})[day] = units[meter_id]
        snapshots = [
            Snapshot(
                meter_id,
                "1",
                at.timestamp(),
                at.astimezone(UTC),
                Quality.GOOD,
                energy_import_kwh=units[meter_id] / 1000 if u is Utility.ELECTRICITY else None,
                volume_m3=units[meter_id] / 1000 if u is Utility.WATER else None,
            )
            for meter_id, u in out.utility.items()
        ]
        assert engine.process(snapshots).readings == len(snapshots)
    return out


def q(units: int) -> Decimal:
    return Decimal(units) / 1000


def change(now: int, then: int) -> Decimal:
    return (Decimal(now - then) * 100 / then).quantize(Decimal("0.1"))


def rows_by_first(table: ReportTable) -> dict[object, dict[str, object]]:
    keys = [column.key for column in table.columns]
    return {row[0]: dict(zip(keys, row, strict=True)) for row in table.rows}


def totals(table: ReportTable) -> dict[str, object]:
    assert table.totals is not None
    return dict(zip([c.key for c in table.columns], table.totals, strict=True))


def test_the_periods_compared() -> None:
    assert previous_period(NOVEMBER) == Period.month(2026, 10)  # 31 days before a 30-day month
    assert previous_period(Period(date(2026, 12, 1), date(2027, 1, 31))) == Period(
        date(2026, 10, 1), date(2026, 11, 30)
    )
    assert previous_period(Period(date(2026, 3, 1), date(2026, 3, 1))) == Period.day(
        date(2026, 2, 28)
    )
    assert previous_period(Period(date(2026, 11, 9), date(2026, 11, 15))) == Period(
        date(2026, 11, 2), date(2026, 11, 8)
    )
    assert year_before(NOVEMBER) == Period.month(2025, 11)
    assert year_before(Period(date(2028, 2, 1), date(2028, 2, 29))) == Period(
        date(2027, 2, 1), date(2027, 2, 28)
    )


def test_a_place_against_the_same_days_a_year_earlier(db: Database, fed: Fed) -> None:
    for by in ("room", "floor", "building"):
        check_places(db, fed, by)


def check_places(db: Database, fed: Fed, by: str) -> None:
    table = energy_report(db, NOVEMBER, Scope(), by)
    last_year, october = Period.month(2025, 11), Period.month(2026, 10)
    power = fed.meters(Utility.ELECTRICITY)
    if by == "room":
        rows = rows_by_first(table)
        for meter_id in power:
            row = rows[fed.room[meter_id]]
            now, then = fed.used([meter_id], NOVEMBER), fed.used([meter_id], last_year)
            assert row["electricity_kwh"] == q(now)
            assert row["electricity_year_before_kwh"] == q(then)
            assert row["electricity_year_change"] == change(now, then)
            assert row["electricity_previous_kwh"] == q(fed.used([meter_id], october))
    if by == "building":
        rows = rows_by_first(table)
        for code in ("A", "B"):
            water = fed.meters(Utility.WATER, code)
            now, then = fed.used(water, NOVEMBER), fed.used(water, last_year)
            assert rows[f"Block {code}"]["water_year_before_m3"] == q(then)
            assert rows[f"Block {code}"]["water_year_change"] == change(now, then)
    total = totals(table)
    now, then = fed.used(power, NOVEMBER), fed.used(power, last_year)
    assert total["electricity_year_before_kwh"] == q(then)
    assert total["electricity_year_change"] == change(now, then)
    assert Decimal(90) < change(now, then) < Decimal(110)  # about twice
    before = fed.used(power, october)
    assert total["electricity_change"] == change(now, before)
    assert any("2026-10-01 to 2026-10-31" in n and "month on month" in n for n in table.notes)
    assert any(n.startswith("A year earlier: 2025-11-01 to 2025-11-30") for n in table.notes)


def test_each_month_against_the_month_before_and_a_year_earlier(db: Database, fed: Fed) -> None:
    table = energy_report(db, Period(date(2026, 10, 1), date(2026, 11, 30)), Scope(), "month")
    rows = rows_by_first(table)
    power = fed.meters(Utility.ELECTRICITY)
    for month, before in (((2026, 10), (2026, 9)), ((2026, 11), (2026, 10))):
        row = rows[f"{month[0]}-{month[1]:02d}"]
        now = fed.used(power, Period.month(*month))
        then = fed.used(power, Period.month(*before))
        year = fed.used(power, Period.month(month[0] - 1, month[1]))
        assert row["electricity_kwh"] == q(now)
        assert row["electricity_previous_kwh"] == q(then)
        assert row["electricity_change"] == change(now, then)
        assert row["electricity_year_before_kwh"] == q(year)
        assert row["electricity_year_change"] == change(now, year)
    total = totals(table)
    both = Period(date(2026, 10, 1), date(2026, 11, 30))
    shifted = Period(date(2026, 9, 1), date(2026, 10, 31))
    assert total["electricity_previous_kwh"] == q(fed.used(power, shifted))
    assert total["electricity_year_change"] == change(
        fed.used(power, both), fed.used(power, year_before(both))
    )
    # A month the period holds only part of is compared with no month before.
    part = energy_report(db, Period(date(2026, 11, 10), date(2026, 11, 30)), Scope(), "month")
    [row] = part.rows
    keys = [c.key for c in part.columns]
    assert row[keys.index("electricity_previous_kwh")] is None
    assert row[keys.index("electricity_change")] is None
    assert totals(part)["electricity_previous_kwh"] is None
    days = Period(date(2025, 11, 10), date(2025, 11, 30))
    assert row[keys.index("electricity_year_before_kwh")] == q(fed.used(power, days))


def test_each_day_against_the_same_day_a_year_earlier(db: Database, fed: Fed) -> None:
    week = Period(date(2026, 11, 9), date(2026, 11, 15))
    table = energy_report(db, week, Scope(building="A"), "day")
    keys = [c.key for c in table.columns]
    assert "electricity_previous_kwh" not in keys  # by day: a year earlier only
    water = fed.meters(Utility.WATER, "A")
    for row in table.rows:
        day = row[0]
        assert isinstance(day, date)
        now = fed.used(water, Period.day(day))
        then = fed.used(water, Period.day(day.replace(year=2025)))
        assert row[keys.index("water_m3")] == q(now)
        assert row[keys.index("water_year_before_m3")] == q(then)
        assert row[keys.index("water_year_change")] == change(now, then)


def test_a_29_february_has_no_day_a_year_earlier(db: Database) -> None:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=1))
    table = energy_report(db, Period(date(2028, 2, 28), date(2028, 3, 1)), Scope(), "day")
    keys = [c.key for c in table.columns]
    cells = [(row[0], row[keys.index("electricity_year_before_kwh")]) for row in table.rows]
    assert cells == [
        (date(2028, 2, 28), Decimal("0.000")),
        (date(2028, 2, 29), None),
        (date(2028, 3, 1), Decimal("0.000")),
    ]
    assert totals(table)["electricity_year_before_kwh"] is None
