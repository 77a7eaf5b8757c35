"""The loss report of a year for 2,000 meters, against a 2 s bound.

The site of ``benchmarks/energy_report.py`` (4 buildings x 4 floors x 84 rooms: an electricity
meter in each room, water in half, about 2,000 meters) in a temporary SQLite file (WAL, as the
application opens it), plus an electricity incomer for each building and a water incomer for
building A (meters in no room, marked as the application marks them). The first 2,000 room
meters get a year of the daily rollup as the engine leaves it (730,000 rows, written in bulk)
and each incomer counts its rooms' use of the day plus 3 to 9 % (the incomers of building D
start in July: the days before have no incomer reading). The report is then made as a
supervisor asks for it, for the whole year: by day for the whole site (4 buildings x 365 days)
and for building A, and by building.

Prints each report's time with its ratio to the 2 s bound and its rows; exits 1 only if a
report's totals disagree with what was written (slowness is reported, never a failure).
"""

from __future__ import annotations

import random
import sys
import tempfile
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.queries.report_table import ReportTable
from app.queries.reports.period import Period
from app.queries.reports.scope import Scope
from app.services.operators import login
from app.services.reports import run_report
from app.store.database import Database
from app.store.migrate import upgrade
from app.store.models import Building, Bus, Meter, Room
from app.vocabulary import MeterStatus, Utility
from benchmarks.support.timing import timed

BOUND_S = 2.0
SPEC = DemoSpec(buildings=4, floors=4, rooms_per_floor=84)
METERS = 2_000
YEAR = Period(date(2026, 1, 1), date(2026, 12, 31))
LATE = ("D", date(2026, 7, 1))  # this building's incomers are read from this day on

Written = dict[tuple[str, Utility], list[int]]  # (building, utility) -> [incomer, rooms] units


def add_incomers(db: Database) -> dict[int, tuple[str, Utility]]:
    """An electricity incomer per building and a water one for A: meter id -> (code, utility)."""
    with db.transaction() as session:
        buildings = session.execute(select(Building.id, Building.code)).all()
        bus = session.execute(select(Bus.id, Bus.profile).order_by(Bus.id)).first()
        assert bus is not None
        wanted = [(b, code, Utility.ELECTRICITY) for b, code in buildings]
        wanted.append(next((b, code, Utility.WATER) for b, code in buildings if code == "A"))
        rows = [
            {
                "serial": f"INC-{code}-{utility.value[0].upper()}",
                "utility": utility,
                "profile": bus[1] or "dlt645-2007",
                "bus_id": bus[0],
                "address": f"{990000000000 + n}",
                "multiplier": 1,
                "status": MeterStatus.ACTIVE,
                "installed_at": datetime(2025, 12, 1, tzinfo=UTC),
                "incomer_building_id": building_id,
            }
            for n, (building_id, code, utility) in enumerate(wanted)
        ]
        session.execute(insert(Meter), rows)
        found = session.execute(
            select(Meter.id, Building.code, Meter.utility).join(
                Building, Building.id == Meter.incomer_building_id
            )
        ).all()
        return {meter_id: (code, utility) for meter_id, code, utility in found}


def seed_days(db: Database, incomers: dict[int, tuple[str, Utility]]) -> Written:
    """A year of daily usage of the first ``METERS`` room meters and of the incomers; returns
    what was written of the days the incomers were read, per building and utility."""
    rng = random.Random(2026)
    written: Written = defaultdict(lambda: [0, 0])
    by_side = {side: meter_id for meter_id, side in incomers.items()}
    with db.transaction() as session:
        meters = session.execute(
            select(Meter.id, Meter.utility, Building.code)
            .join(Room, Room.id == Meter.room_id)
            .join(Building, Building.id == Room.building_id)
            .order_by(Meter.id)
        ).all()[:METERS]
        typical = {
            meter_id: 0
            if rng.random() < 0.02
            else (
                rng.randint(2_000, 12_000)
                if utility is Utility.ELECTRICITY
                else rng.randint(50, 600)
            )
            for meter_id, utility, _code in meters
        }
        connection = session.connection()
        statement = (
            "INSERT INTO daily_usage (meter_id, day, units, peak_power_w) VALUES (?, ?, ?, ?)"
        )
        rows: list[tuple[int, str, int, float | None]] = []
        for day in YEAR.days:
            iso = day.isoformat()
            rooms: dict[tuple[str, Utility], int] = defaultdict(int)
            for meter_id, utility, code in meters:
                units = rng.randint(0, 2 * typical[meter_id]) if typical[meter_id] else 0
                rooms[(code, utility)] += units
                rows.append((meter_id, iso, units, None))
            for side, meter_id in by_side.items():
                if side[0] == LATE[0] and day < LATE[1]:
                    continue
                units = rooms[side] * rng.randint(103, 109) // 100
                rows.append((meter_id, iso, units, None))
                written[side][0] += units
                written[side][1] += rooms[side]
            if len(rows) >= 100_000:
                connection.exec_driver_sql(statement, rows)
                rows = []
        if rows:
            connection.exec_driver_sql(statement, rows)
    return written


def check(table: ReportTable, written: Written, codes: tuple[str, ...]) -> int:
    """1 if the report's totals are not what was written for these buildings."""
    assert table.totals is not None
    wrong = 0
    for utility, unit in ((Utility.ELECTRICITY, "kwh"), (Utility.WATER, "m3")):
        sides = [written[(code, utility)] for code in codes if (code, utility) in written]
        for n, what in enumerate(("incomer", "rooms")):
            want = Decimal(sum(side[n] for side in sides)) / 1000
            got = table.totals[table.column(f"{utility.value}_{what}_{unit}")]
            if got != want:
                print(f"WRONG: {table.title} {utility.value} {what} totals {got}, wrote {want}")
                wrong = 1
    return wrong


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{folder}/bench.sqlite3")
        db.enable_wal()
        upgrade(db)
        seconds, _ = timed(lambda: seed_demo_site(db, SPEC))
        print(
            f"seeded a site of {SPEC.buildings * SPEC.floors * SPEC.rooms_per_floor:,} rooms "
            f"in {seconds:.1f} s"
        )
        incomers = add_incomers(db)
        seconds, written = timed(lambda: seed_days(db, incomers))
        print(
            f"wrote a year of daily usage of {METERS:,} meters and {len(incomers)} incomers "
            f"({(METERS + len(incomers)) * 365:,} rows) in {seconds:.1f} s (not measured)"
        )
        supervisor = login(db, "supervisor", DEMO_PASSWORD)
        everyone = ("A", "B", "C", "D")
        cases: list[tuple[str, Scope, str, tuple[str, ...]]] = [
            ("loss by day, site", Scope(), "day", everyone),
            ("loss by building, site", Scope(), "building", everyone),
            ("loss by day, building A", Scope(building="A"), "day", ("A",)),
        ]
        wrong = 0
        worst = 0.0
        for label, scope, by, codes in cases:
            seconds, table = timed(
                lambda scope=scope, by=by: run_report(  # type: ignore[misc]
                    db, supervisor, "loss", YEAR, scope, by
                )
            )
            worst = max(worst, seconds)
            print(
                f"{label}: {seconds:.2f} s, ratio {seconds / BOUND_S:.2f} to the {BOUND_S:.0f} s "
                f"bound, {len(table.rows):,} rows"
            )
            wrong += check(table, written, codes)
        print(f"worst {worst:.2f} s, ratio {worst / BOUND_S:.2f} to the {BOUND_S:.0f} s bound")
        db.dispose()
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
