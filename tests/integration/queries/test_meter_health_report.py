"""The meter health report agrees with what the bus workers counted: counters, offline time and
clock reads go through the runtime's path (``HealthDays`` flushing real, never started, bus
workers' counters; ``record_clock``) into ``meter_health_day``; the report of that day holds
exactly those numbers per meter and per bus, the worst first, narrowed by its scope, without
the next day's; ``main.py report meter-health`` gives the same as CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.hardware.bus_worker import BusMeter, BusWorker
from app.hardware.link import LineSettings
from app.hardware.profiles import load_profile
from app.queries.report_table import ReportTable
from app.queries.reports.meter_health import meter_health_report
from app.queries.reports.period import Period
from app.queries.reports.revenue import GroupingRefused
from app.queries.reports.scope import Scope
from app.runtime.clock_watch import record_clock
from app.runtime.health_days import HealthDays
from app.services.operators import login
from app.services.reports import run_report
from app.store.database import Database
from app.store.models import Building, Bus, Meter, Room
from tests.support import run_python

ZONE = ZoneInfo("Asia/Shanghai")  # the demo site's
DAY = date(2026, 11, 10)
PERIOD = Period.day(DAY)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE)


@dataclass
class Counted:
    """What the test's workers counted on ``DAY``, per meter serial."""

    bus: dict[str, str] = field(default_factory=dict)
    building: dict[str, str] = field(default_factory=dict)
    polls: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    offline_s: dict[str, int] = field(default_factory=dict)
    serials: list[str] = field(default_factory=list)  # in the order of the meters' ids


def workers_of(meters: list[tuple[int, str, str, str]]) -> dict[str, BusWorker]:
    """A never started worker per bus, counting for the meters (id, address, profile, bus)."""
    by_bus: dict[str, list[BusMeter]] = defaultdict(list)
    for meter_id, address, profile, bus in meters:
        by_bus[bus].append(BusMeter(meter_id, address, load_profile(profile)))
    return {
        bus: BusWorker(bus, f"sim://{bus}", LineSettings(), listed, lambda _snapshot: None)
        for bus, listed in by_bus.items()
    }


@pytest.fixture
def counted(db: Database) -> Counted:
    seed_demo_site(db, DemoSpec(buildings=2, floors=1, rooms_per_floor=2))
    out = Counted()
    with db.session() as session:
        rows = session.execute(
            select(Meter.id, Meter.serial, Meter.address, Meter.profile, Bus.name, Building.code)
            .join(Bus, Bus.id == Meter.bus_id)
            .join(Room, Room.id == Meter.room_id)
            .join(Building, Building.id == Room.building_id)
            .order_by(Meter.id)
        ).all()
    meters = [(meter_id, address, profile, bus) for meter_id, _s, address, profile, bus, _b in rows]
    for _id, serial, _address, _profile, bus, building in rows:
        out.serials.append(serial)
        out.bus[serial], out.building[serial] = bus, building
    address = {serial: a for _id, serial, a, _p, _b, _c in rows}
    buses = workers_of(meters)
    clock = [at(7)]
    health = HealthDays(lambda: list(buses.values()), clock=lambda: clock[0])
    for index, serial in enumerate(out.serials):
        stats = buses[out.bus[serial]].stats
        good, failed = 20 + index, index % 3
        last_good = at(9, 30) if index == 2 else at(8)
        for _ in range(good):
            stats.poll_done(address[serial], True, 15.0, last_good.timestamp())
        for _ in range(failed):
            stats.count_fault(address[serial], "timeouts", "no answer")
            stats.poll_done(address[serial], False, None, 0.0)
        out.polls[serial], out.failed[serial] = good + failed, failed
        out.offline_s[serial] = 0
    first = out.serials[0]
    for counter in ("crc_errors", "crc_errors", "frame_errors", "exceptions"):
        buses[out.bus[first]].stats.count_fault(address[first], counter, "bad")
    # The second meter went offline after its last good poll at 08:00, the third at 09:30.
    for index, since in ((1, at(8)), (2, at(9, 30))):
        serial = out.serials[index]
        buses[out.bus[serial]].stats.set_online(address[serial], False)
        out.offline_s[serial] = int((at(10) - since).total_seconds())
    clock[0] = at(10)
    with db.transaction() as session:
        health.flush(session)
        # The fourth meter's clock: read twice that day, once the next (outside the period).
        console = at(11).replace(tzinfo=None)
        for offset_s, day in ((40, 0), (-90, 0), (500, 1)):
            record_clock(
                session,
                rows[3][0],
                console + timedelta(days=day, seconds=offset_s),
                at(11) + timedelta(days=day),
            )
    # The next day a restarted runtime counts many failures on the first meter.
    later = workers_of(meters)
    health = HealthDays(lambda: list(later.values()), clock=lambda: at(9, day=DAY + timedelta(1)))
    for _ in range(50):
        later[out.bus[first]].stats.count_fault(address[first], "timeouts", "no answer")
        later[out.bus[first]].stats.poll_done(address[first], False, None, 0.0)
    with db.transaction() as session:
        health.flush(session)
    return out


def by_meter(table: ReportTable) -> dict[str, dict[str, object]]:
    keys = [column.key for column in table.columns]
    return {
        str(row[table.column("meter")]): dict(zip(keys, row, strict=True)) for row in table.rows
    }


def percent(failed: int, polls: int) -> Decimal:
    return (Decimal(failed) * 100 / polls).quantize(Decimal("0.1"))


def hours(seconds: int) -> Decimal:
    return (Decimal(seconds) / 3600).quantize(Decimal("0.01"))


def test_per_meter_the_counts_of_the_day_worst_first(db: Database, counted: Counted) -> None:
    table = meter_health_report(db, PERIOD, Scope())
    rows = by_meter(table)
    assert list(rows) == [counted.serials[1], counted.serials[2], *list(rows)[2:]]
    for serial in counted.serials:
        row = rows[serial]
        assert row["polls"] == counted.polls[serial]
        assert row["timeouts"] == counted.failed[serial]
        assert row["failed_pct"] == percent(counted.failed[serial], counted.polls[serial])
        assert row["offline_h"] == hours(counted.offline_s[serial])
        assert row["bus"] == counted.bus[serial]
        assert row["building"] == counted.building[serial]
    first = rows[counted.serials[0]]
    assert (first["crc_errors"], first["frame_errors"], first["exceptions"]) == (2, 1, 1)
    assert rows[counted.serials[3]]["drift_s"] == Decimal(-90)  # the next day's 500 s is not
    assert rows[counted.serials[0]]["drift_s"] is None
    # After the offline ones, the most failed polls first.
    failed = [row[table.column("timeouts")] for row in table.rows[2:]]
    assert failed == sorted(failed, reverse=True)  # type: ignore[type-var]
    assert table.totals is not None
    totals = dict(zip([c.key for c in table.columns], table.totals, strict=True))
    assert totals["building"] == f"{len(counted.serials)} meters"
    assert totals["polls"] == sum(counted.polls.values())
    assert totals["failed_pct"] == percent(
        sum(counted.failed.values()), sum(counted.polls.values())
    )
    assert totals["offline_h"] == hours(2 * 3600 + 30 * 60)
    assert totals["drift_s"] == Decimal(-90)
    assert table.chart is not None
    assert table.chart.series == ("offline_h",)


def test_the_next_day_and_a_scope_and_per_bus(db: Database, counted: Counted) -> None:
    following = meter_health_report(db, Period.day(DAY + timedelta(days=1)), Scope())
    first = by_meter(following)[counted.serials[0]]
    assert (first["polls"], first["timeouts"], first["failed_pct"]) == (50, 50, Decimal(100))
    assert by_meter(following)[counted.serials[3]]["drift_s"] == Decimal(500)
    assert following.rows[0][following.column("meter")] == counted.serials[0]
    assert following.chart is not None
    assert following.chart.series == ("failed_pct",)  # nobody offline that day

    only_b = meter_health_report(db, PERIOD, Scope(building="B"))
    in_b = {s for s in counted.serials if counted.building[s] == "B"}
    assert set(by_meter(only_b)) == in_b
    assert only_b.subtitle == "Building B"

    buses = meter_health_report(db, PERIOD, Scope(), "bus")
    assert [c.key for c in buses.columns][:3] == ["bus", "meters", "polls"]
    rows = {str(row[0]): row for row in buses.rows}
    assert set(rows) == set(counted.bus.values())
    for bus, row in rows.items():
        serials = [s for s in counted.serials if counted.bus[s] == bus]
        assert row[buses.column("meters")] == len(serials)
        assert row[buses.column("polls")] == sum(counted.polls[s] for s in serials)
        assert row[buses.column("offline_h")] == hours(sum(counted.offline_s[s] for s in serials))
    worst_bus = counted.bus[counted.serials[1]]
    assert buses.rows[0][0] == worst_bus
    assert buses.totals is not None
    assert buses.totals[buses.column("meters")] == len(counted.serials)

    with pytest.raises(GroupingRefused, match="groups by meter, bus"):
        meter_health_report(db, PERIOD, Scope(), "room")
    office = login(db, "office", DEMO_PASSWORD)
    assert run_report(db, office, "meter-health", PERIOD, Scope(), "bus").name == "meter_health"


def main(db: Database, tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    url = db.url.render_as_string(hide_password=False)
    return run_python(
        ["main.py", "--data-dir", str(tmp_path), "--db", url, *args],
        env={"METERDESK_PASSWORD": DEMO_PASSWORD},
    )


def test_the_command_line_gives_it_as_csv_and_json(
    db: Database, counted: Counted, tmp_path: Path
) -> None:
    day = DAY.isoformat()
    as_csv = main(
        db, tmp_path, "report", "meter-health", "--from", day, "--to", day, "--format", "csv",
        "--user", "office",
    )  # fmt: skip
    assert as_csv.returncode == 0, as_csv.stderr
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout.lstrip("\ufeff"))))
    assert rows[0]["Meter"] == counted.serials[1]
    assert rows[0]["Offline (h)"] == str(hours(counted.offline_s[counted.serials[1]]))
    assert rows[-1]["Building"] == f"{len(counted.serials)} meters"
    assert rows[-1]["Polls"] == str(sum(counted.polls.values()))

    as_json = main(
        db, tmp_path, "report", "meter-health", "--from", day, "--to", day, "--by", "bus",
        "--building", "A", "--format", "json", "--user", "office",
    )  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["report"] == "meter_health"
    in_a = [s for s in counted.serials if counted.building[s] == "A"]
    assert {row["bus"] for row in report["rows"]} == {counted.bus[s] for s in in_a}
    assert report["totals"]["polls"] == str(sum(counted.polls[s] for s in in_a))

    refused = main(
        db, tmp_path, "report", "meter-health", "--from", day, "--to", day, "--by", "trip",
        "--user", "office",
    )  # fmt: skip
    assert refused.returncode == 1
    assert "groups by meter, bus" in refused.stderr
