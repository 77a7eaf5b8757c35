"""The energy report of a year of 2,000 meters, against a 2 s bound.

A demo site of 1,344 rooms (4 buildings x 4 floors x 84 rooms: an electricity meter in each,
water in half, about 2,000 meters) is seeded into a temporary SQLite file (WAL, as the
application opens it); its first 2,000 meters get a year of the daily rollup as the engine
leaves it (one ``daily_usage`` row per meter and day: 730,000 rows, written in bulk), and with
``--years 2`` the year before as well, so the comparison with the previous period reads as
much again. The report is then made as an office clerk asks for it, for the whole year of the
whole site: by building, by room (every room, with the previous year and the notes), by floor
and by month, and by room for one building.

Prints each report's time with its ratio to the 2 s bound and its rows; exits 1 only if a
report's totals disagree with what was written (slowness is reported, never a failure).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections.abc import Sequence
from datetime import date, timedelta
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
from app.vocabulary import Utility
from benchmarks.support.timing import timed

BOUND_S = 2.0
SPEC = DemoSpec(buildings=4, floors=4, rooms_per_floor=84)
METERS = 2_000
YEAR = Period(date(2026, 1, 1), date(2026, 12, 31))


def seed_days(db: Database, years: int) -> dict[Utility, int]:
    """``years`` years up to the end of ``YEAR`` of daily usage of the first ``METERS`` meters;
    returns the units of ``YEAR`` per utility."""
    rng = random.Random(2026)
    written = {Utility.ELECTRICITY: 0, Utility.WATER: 0}
    with db.transaction() as session:
        meters = session.execute(select(Meter.id, Meter.utility).order_by(Meter.id)).all()
        meters = meters[:METERS]
        first = YEAR.first - timedelta(days=365 * (years - 1))
        days = [
            (first + timedelta(days=n)).isoformat() for n in range((YEAR.last - first).days + 1)
        ]
        typical: dict[int, int] = {}
        for meter_id, utility in meters:
            usual = (
                rng.randint(2_000, 12_000)
                if utility is Utility.ELECTRICITY
                else rng.randint(50, 600)
            )
            typical[meter_id] = 0 if rng.random() < 0.02 else usual  # 2 % vacant rooms
        rows: list[tuple[int, str, int, float | None]] = []
        connection = session.connection()
        statement = (
            "INSERT INTO daily_usage (meter_id, day, units, peak_power_w) VALUES (?, ?, ?, ?)"
        )
        for day in days:  # day by day, as the engine adds them
            for meter_id, utility in meters:
                units = rng.randint(0, 2 * typical[meter_id]) if typical[meter_id] else 0
                electric = utility is Utility.ELECTRICITY
                rows.append((meter_id, day, units, round(units / 6.0, 1) if electric else None))
                if day >= YEAR.first.isoformat():
                    written[utility] += units
            if len(rows) >= 100_000:
                connection.exec_driver_sql(statement, rows)
                rows = []
        if rows:
            connection.exec_driver_sql(statement, rows)
    return written


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--years",
        type=int,
        choices=(1, 2),
        default=1,
        help="years of daily usage to write: 2 also fills the previous period (default 1)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{folder}/bench.sqlite3")
        db.enable_wal()
        upgrade(db)
        seconds, _ = timed(lambda: seed_demo_site(db, SPEC))
        print(
            f"seeded a site of {SPEC.buildings * SPEC.floors * SPEC.rooms_per_floor:,} rooms "
            f"in {seconds:.1f} s"
        )
        seconds, written = timed(lambda: seed_days(db, args.years))
        print(
            f"wrote {args.years} year(s) of daily usage of {METERS:,} meters "
            f"({METERS * 365 * args.years:,} rows) in {seconds:.1f} s (not measured)"
        )
        office = login(db, "office", DEMO_PASSWORD)
        wrong = 0
        worst = 0.0
        cases: list[tuple[str, Scope, str]] = [
            ("energy by building, site", Scope(), "building"),
            ("energy by room, site", Scope(), "room"),
            ("energy by floor, site", Scope(), "floor"),
            ("energy by month, site", Scope(), "month"),
            ("energy by room, building A", Scope(building="A"), "room"),
        ]
        for label, scope, by in cases:
            seconds, table = timed(
                lambda scope=scope, by=by: run_report(  # type: ignore[misc]
                    db, office, "energy", YEAR, scope, by
                )
            )
            worst = max(worst, seconds)
            print(
                f"{label}: {seconds:.2f} s, ratio {seconds / BOUND_S:.2f} to the {BOUND_S:.0f} s "
                f"bound, {len(table.rows):,} rows"
            )
            if scope == Scope():
                wrong += check(table, "electricity_kwh", written[Utility.ELECTRICITY])
                wrong += check(table, "water_m3", written[Utility.WATER])
        print(f"worst {worst:.2f} s, ratio {worst / BOUND_S:.2f} to the {BOUND_S:.0f} s bound")
        db.dispose()
    return 1 if wrong else 0


def check(table: ReportTable, key: str, units: int) -> int:
    assert table.totals is not None
    got = table.totals[table.column(key)]
    if got != Decimal(units) / 1000:
        print(f"WRONG: {table.title} {key} totals {got}, written {Decimal(units) / 1000}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
