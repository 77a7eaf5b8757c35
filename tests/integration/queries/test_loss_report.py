"""The loss report agrees with the meters' registers: building A gets an electricity and a water
incomer (meters added without a room and marked through the service), every meter is fed
through the real engine every 6 hours for two weeks, and the incomers count what A's rooms
count plus a loss (less than the rooms on one day). Each day's incomer, rooms and loss are the
register differences of that day; the days before the incomers' first reading show nothing;
the period's totals by building compare the same days; building B, with no incomer, is named
in a note; the energy report leaves the incomers out of the rooms' energy."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.hardware.snapshot import Quality, Snapshot
from app.queries.report_table import ReportTable
from app.queries.reports.energy import energy_report
from app.queries.reports.loss import NO_INCOMER_READING, loss_report
from app.queries.reports.period import Period
from app.queries.reports.revenue import GroupingRefused
from app.queries.reports.scope import Scope, ScopeRefused
from app.runtime.engine import Engine
from app.services.meter_incomer import set_incomer
from app.services.meter_setup import MeterForm, add_meter
from app.services.operators import login
from app.services.permissions import PermissionDenied
from app.services.reports import run_report
from app.store.database import Database
from app.store.models import Building, Meter, Room
from app.vocabulary import Role, Utility

ZONE = ZoneInfo("Asia/Shanghai")  # the demo site's
START = datetime(2026, 11, 2, tzinfo=ZONE)  # local midnight
STEP = timedelta(hours=6)
STEPS = 14 * 4  # two weeks
INSTALLED = START + timedelta(days=2)  # the incomers' first reading
PERIOD = Period(date(2026, 11, 2), date(2026, 11, 15))
SHORT_DAY = date(2026, 11, 10)  # the electricity incomer counts less than the rooms
LOSS_WH, LOSS_L = 350, 12  # per 6 hours


class Fed:
    """Every meter's register at each moment fed, the rooms' meters by building and utility."""

    def __init__(self) -> None:
        self.registers: dict[int, dict[datetime, int]] = {}
        self.utility: dict[int, Utility] = {}
        self.rooms: dict[tuple[str, Utility], list[int]] = {}
        self.incomer: dict[Utility, int] = {}

    def used(self, meters: list[int], day: date) -> int:
        first = datetime.combine(day, datetime.min.time(), ZONE)
        last = first + timedelta(days=1)
        return sum(self.registers[m][last] - self.registers[m][first] for m in meters)


def _incomer(db: Database, serial: str, bus: str, address: str) -> int:
    technician = login(db, Role.TECHNICIAN.value, DEMO_PASSWORD)
    with db.transaction() as session:
        saved = add_meter(session, technician, MeterForm(serial, bus, address), at=INSTALLED)
        set_incomer(session, technician, serial, "A")
        return saved.meter_id


@pytest.fixture
def fed(db: Database) -> Fed:
    seed_demo_site(db, DemoSpec(buildings=2, floors=1, rooms_per_floor=3))
    out = Fed()
    with db.session() as session:
        for meter_id, utility, code in session.execute(
            select(Meter.id, Meter.utility, Building.code)
            .join(Room, Room.id == Meter.room_id)
            .join(Building, Building.id == Room.building_id)
            .order_by(Meter.id)
        ):
            out.utility[meter_id] = utility
            out.rooms.setdefault((code, utility), []).append(meter_id)
    out.incomer[Utility.ELECTRICITY] = _incomer(
        db, "INC-A-E", "Block A electricity 1", "999999000001"
    )
    out.incomer[Utility.WATER] = _incomer(db, "INC-A-W", "Block A water 1", "99999900000001")
    engine = Engine(db)
    engine.load()
    units = {m: 100_000 + 1000 * m for m in out.utility}
    incomer_units = dict.fromkeys(out.incomer, 0)
    for n in range(STEPS + 1):
        at = START + n * STEP
        steps: dict[int, int] = {}
        for meter_id, utility in out.utility.items():
            step = (200 + 150 * (meter_id % 4)) if utility is Utility.ELECTRICITY else 20 + meter_id
            steps[meter_id] = step * (1 + n % 2) if n else 0
            units[meter_id] += steps[meter_id]
            out.registers.setdefault(meter_id, {})[at] = units[meter_id]
        snapshots = [_snapshot(m, at, units[m], out.utility[m]) for m in out.utility]
        for utility, meter_id in out.incomer.items():
            if at < INSTALLED:
                continue
            if at > INSTALLED:  # at INSTALLED: its initial reading (0), stored by add_meter
                rooms = sum(steps[m] for m in out.rooms[("A", utility)])
                loss = LOSS_WH if utility is Utility.ELECTRICITY else LOSS_L
                if utility is Utility.ELECTRICITY and (at - STEP).date() == SHORT_DAY:
                    loss = -100
                incomer_units[utility] += rooms + loss
                snapshots.append(_snapshot(meter_id, at, incomer_units[utility], utility))
            out.registers.setdefault(meter_id, {})[at] = incomer_units[utility]
        assert engine.process(snapshots).readings == len(snapshots)
    return out


def _snapshot(meter_id: int, at: datetime, units: int, utility: Utility) -> Snapshot:
    value = units / 1000
    return Snapshot(
        meter_id,
        "1",
        at.timestamp(),
        at.astimezone(UTC),
        Quality.GOOD,
        energy_import_kwh=value if utility is Utility.ELECTRICITY else None,
        volume_m3=value if utility is Utility.WATER else None,
    )


def q(units: int) -> Decimal:
    return Decimal(units) / 1000


def rows_of(table: ReportTable) -> list[dict[str, object]]:
    keys = [column.key for column in table.columns]
    return [dict(zip(keys, row, strict=True)) for row in table.rows]


def totals_of(table: ReportTable) -> dict[str, object]:
    assert table.totals is not None
    return dict(zip([c.key for c in table.columns], table.totals, strict=True))


def percent(loss: int, incomer: int) -> Decimal:
    return (Decimal(loss) * 100 / incomer).quantize(Decimal("0.1"))


def test_each_day_sets_the_incomer_against_the_rooms(db: Database, fed: Fed) -> None:
    table = loss_report(db, PERIOD, Scope(), "day")
    rows = rows_of(table)
    assert [row["day"] for row in rows] == PERIOD.days  # building A only: B has no incomer
    assert {row["building"] for row in rows} == {"Block A (A)"}
    power, water = fed.rooms[("A", Utility.ELECTRICITY)], fed.rooms[("A", Utility.WATER)]
    sums = {"incomer": 0, "rooms": 0}
    for row in rows:
        day = row["day"]
        assert isinstance(day, date)
        if day < INSTALLED.date():  # before the incomers' first reading: nothing
            assert row["electricity_incomer_kwh"] is None
            assert row["electricity_rooms_kwh"] is None
            assert row["water_loss_m3"] is None
            assert row["note"] == f"{NO_INCOMER_READING} (electricity, water)"
            continue
        incomer = fed.used([fed.incomer[Utility.ELECTRICITY]], day)
        rooms = fed.used(power, day)
        assert row["electricity_incomer_kwh"] == q(incomer)
        assert row["electricity_rooms_kwh"] == q(rooms)
        assert row["electricity_loss_kwh"] == q(incomer - rooms)
        assert row["electricity_loss_percent"] == percent(incomer - rooms, incomer)
        expected = -400 if day == SHORT_DAY else 4 * LOSS_WH
        assert incomer - rooms == expected
        water_in = fed.used([fed.incomer[Utility.WATER]], day)
        assert row["water_incomer_m3"] == q(water_in)
        assert row["water_loss_m3"] == q(water_in - fed.used(water, day)) == q(4 * LOSS_L)
        assert row["note"] is None
        sums["incomer"] += incomer
        sums["rooms"] += rooms
    totals = totals_of(table)
    assert totals["electricity_incomer_kwh"] == q(sums["incomer"])
    assert totals["electricity_rooms_kwh"] == q(sums["rooms"])
    assert totals["electricity_loss_percent"] == percent(
        sums["incomer"] - sums["rooms"], sums["incomer"]
    )
    assert any("No electricity incomer" in n and "Block B (B)" in n for n in table.notes)
    assert any("No water incomer" in n and "Block B (B)" in n for n in table.notes)
    assert any(n.startswith("A negative loss") for n in table.notes)
    assert table.chart is not None
    assert table.chart.series == ("electricity_loss_percent",)
    assert table.chart.category == "day"


def test_by_building_the_period_compares_the_same_days(db: Database, fed: Fed) -> None:
    table = loss_report(db, PERIOD, Scope(), "building")
    [row] = rows_of(table)
    measured = [d for d in PERIOD.days if d >= INSTALLED.date()]
    incomer = sum(fed.used([fed.incomer[Utility.ELECTRICITY]], d) for d in measured)
    rooms = sum(fed.used(fed.rooms[("A", Utility.ELECTRICITY)], d) for d in measured)
    assert row["building"] == "Block A (A)"
    assert row["electricity_days"] == len(measured)
    assert row["electricity_incomer_kwh"] == q(incomer)
    assert row["electricity_rooms_kwh"] == q(rooms)  # not the days before the incomer
    assert row["electricity_loss_kwh"] == q(incomer - rooms)
    assert row["electricity_loss_percent"] == percent(incomer - rooms, incomer)
    by_day = totals_of(loss_report(db, PERIOD, Scope(), "day"))
    assert by_day["electricity_loss_kwh"] == row["electricity_loss_kwh"]
    assert by_day["water_loss_m3"] == row["water_loss_m3"]


def test_a_building_without_incomer_is_named_not_left_out_silently(db: Database, fed: Fed) -> None:
    table = loss_report(db, PERIOD, Scope(building="B"), "building")
    assert table.rows == ()
    assert [c.key for c in table.columns][:2] == ["building", "electricity_days"]
    assert any("No electricity incomer" in n and "Block B (B)" in n for n in table.notes)
    assert table.subtitle == "Building B"


def test_the_energy_report_leaves_the_incomers_out(db: Database, fed: Fed) -> None:
    day = date(2026, 11, 9)
    for by in ("room", "building", "day"):
        table = energy_report(db, Period.day(day), Scope(), by)
        totals = totals_of(table)
        power = fed.rooms[("A", Utility.ELECTRICITY)] + fed.rooms[("B", Utility.ELECTRICITY)]
        water = fed.rooms[("A", Utility.WATER)] + fed.rooms[("B", Utility.WATER)]
        assert totals["electricity_kwh"] == q(fed.used(power, day))
        assert totals["water_m3"] == q(fed.used(water, day))
        assert "(no room)" not in [row[0] for row in table.rows]


def test_scopes_and_groupings_it_does_not_have_are_refused(db: Database, fed: Fed) -> None:
    with pytest.raises(GroupingRefused, match="the loss report groups by day, building"):
        loss_report(db, PERIOD, Scope(), "room")
    for scope in (Scope(building="A", floor=1), Scope(room="A-101")):
        with pytest.raises(ScopeRefused, match="give --building alone"):
            loss_report(db, PERIOD, scope)
    with pytest.raises(ScopeRefused, match="there is no building Z; the site's buildings are A, B"):
        loss_report(db, PERIOD, Scope(building="Z"))
    office = login(db, Role.OFFICE.value, DEMO_PASSWORD)
    table = run_report(db, office, "loss", PERIOD, Scope())
    assert table.name == "loss"
    assert table.title == "Loss by day, 2026-11-02 to 2026-11-15"
    cashier = login(db, Role.CASHIER.value, DEMO_PASSWORD)
    with pytest.raises(PermissionDenied):
        run_report(db, cashier, "loss", PERIOD, Scope())
