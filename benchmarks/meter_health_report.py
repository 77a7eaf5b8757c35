"""The meter health report of a year of 2,000 meters, against a 2 s bound.

A demo site of 1,344 rooms (4 buildings x 4 floors x 84 rooms: an electricity meter in each,
water in half, about 2,000 meters) is seeded into a temporary SQLite file (WAL, as the
application opens it); its first 2,000 meters get a year of daily poll health as the runtime
leaves it (one ``meter_health_day`` row per meter and day: 730,000 rows, written in bulk; a few
meters with offline hours and failures, clock drifts read now and then). The report is then made
as a technician asks for it, for the whole year: per meter and per bus for the whole site, per
meter for one building.

Prints each report's time with its ratio to the 2 s bound and its rows; exits 1 only if a
report's totals disagree with what was written (slowness is reported, never a failure).
"""

from __future__ import annotations

import random
import sys
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.queries.report_table import ReportTable
from app.queries.reports.period import Period
from app.queries.reports.scope import Scope
from app.services.operators import login
from app.services.reports import run_report
from app.store.database import Database
from app.store.migrate import upgrade
from app.store.models import Meter
from benchmarks.support.timing import timed

BOUND_S = 2.0
SPEC = DemoSpec(buildings=4, floors=4, rooms_per_floor=84)
METERS = 2_000
YEAR = Period(date(2026, 1, 1), date(2026, 12, 31))


def seed_health(db: Database) -> tuple[int, int]:
    """A year of daily poll health of the first ``METERS`` meters; returns (polls, offline
    seconds) written."""
    rng = random.Random(2026)
    polls_total = offline_total = 0
    with db.transaction() as session:
        meters = list(session.scalars(select(Meter.id).order_by(Meter.id)))[:METERS]
        flaky = set(rng.sample(meters, 40))  # a bad cable, a meter losing power now and then
        rows: list[tuple[object, ...]] = []
        statement = (
            "INSERT INTO meter_health_day (meter_id, day, polls, failed_polls, timeouts, "
            "crc_errors, frame_errors, exceptions, offline_s, drift_s) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        connection = session.connection()
        for day in YEAR.days:  # day by day, as the runtime adds them
            iso = day.isoformat()
            for meter_id in meters:
                polls = rng.randint(8_000, 9_000)
                bad = meter_id in flaky
                failed = rng.randint(0, 400) if bad else rng.randint(0, 3)
                offline = rng.choice((0, 0, 0, 600, 3600, 14_400)) if bad else 0
                drift = round(rng.uniform(-300, 300), 1) if rng.random() < 0.25 else None
                faults = (failed * 2, failed // 4, failed // 8, 0)
                rows.append((meter_id, iso, polls, failed, *faults, offline, drift))
                polls_total += polls
                offline_total += offline
            if len(rows) >= 100_000:
                connection.exec_driver_sql(statement, rows)
                rows = []
        if rows:
            connection.exec_driver_sql(statement, rows)
    return polls_total, offline_total


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
        seconds, (polls, offline_s) = timed(lambda: seed_health(db))
        print(
            f"wrote a year of daily poll health of {METERS:,} meters ({METERS * 365:,} rows) in "
            f"{seconds:.1f} s (not measured)"
        )
        office = login(db, "office", DEMO_PASSWORD)
        wrong = 0
        worst = 0.0
        cases: list[tuple[str, Scope, str]] = [
            ("meter health by meter, site", Scope(), "meter"),
            ("meter health by bus, site", Scope(), "bus"),
            ("meter health by meter, building A", Scope(building="A"), "meter"),
        ]
        for label, scope, by in cases:
            seconds, table = timed(
                lambda scope=scope, by=by: run_report(  # type: ignore[misc]
                    db, office, "meter-health", YEAR, scope, by
                )
            )
            worst = max(worst, seconds)
            print(
                f"{label}: {seconds:.2f} s, ratio {seconds / BOUND_S:.2f} to the {BOUND_S:.0f} s "
                f"bound, {len(table.rows):,} rows"
            )
            if scope == Scope():
                wrong += check(table, "polls", Decimal(polls))
                wrong += check(table, "offline_h", (Decimal(offline_s) / 3600).quantize(_HOURS))
        print(f"worst {worst:.2f} s, ratio {worst / BOUND_S:.2f} to the {BOUND_S:.0f} s bound")
        db.dispose()
    return 1 if wrong else 0


_HOURS = Decimal("0.01")


def check(table: ReportTable, key: str, expected: Decimal) -> int:
    assert table.totals is not None
    got = table.totals[table.column(key)]
    if got != expected:
        print(f"WRONG: {table.title} {key} totals {got}, written {expected}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
