"""One engine pass over 20,000 meters with fresh readings, against a 2 s target.

A demo site of 4 buildings x 20 floors x 167 rooms (13,360 electricity meters and 6,640 water
meters: 20,000) is seeded into a temporary SQLite file (WAL, as the application opens it). A
runtime without buses loads it and defines the live-power groups (as ``Runtime.start`` does);
then every meter reports once (its first reading: the baseline of rating, not measured). Then,
three times over, every meter reports again 15 minutes later and the engine handles the batch in
one transaction (the "readings pass": 20,000 interval readings stored, rated, the load guard and
live power fed, and the accounts whose waiting charge crosses into another credit region posted
at once), followed by the hourly posting of everything waiting, run as the engine runs a task
(the "posting pass": a consumption entry per account, a usage charge per meter, cycle, TOU
period and tier, the usage per day, period and tier added to charge_day, the raters' states
saved).

Prints each pass's time with its ratio to the 2 s target and meters per second, and the median
and worst of each kind. Seeding and the first reading are timed separately and not measured
against the target. At the end the ledger is verified and the interval readings counted: exit
status 1 only if the work was wrong (slowness is reported, never a failure).

The same pass on PostgreSQL (the engine of a site of several PCs), against the same target:
``--db URL`` runs it in that database, which must be empty (it is migrated and seeded, and
keeps the site afterwards); ``--postgres`` makes a scratch database of its own through the
admin URL in ``METERDESK_TEST_PG_URL`` (as the tests do) and drops it at the end. Exit status 2
when the database cannot be used (unreachable, not empty, no URL).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.demo.site import DemoSpec, seed_demo_site
from app.hardware.snapshot import Quality, Snapshot
from app.queries.site_facts import power_groups
from app.runtime.runtime import Runtime, RuntimeOptions
from app.services.ledger_verify import verify_ledger
from app.store.database import Database, sqlite_url_for
from app.store.errors import StoreError, check_database_url
from app.store.field_lock import SoleLocks
from app.store.migrate import schema_state, upgrade
from app.store.models import ChargeDay, IntervalReading, Meter, UsageCharge
from app.vocabulary import ReadingQuality, Utility
from benchmarks.support.scratch_db import (
    ADMIN_URL_ENV,
    Unusable,
    admin_url_or_refuse,
    scratch_postgres,
)

R = TypeVar("R")
TARGET_S = 2.0
SPEC = DemoSpec(buildings=4, floors=20, rooms_per_floor=167)  # 13,360 + 6,640 meters
WANTED_METERS = 20_000
REPEATS = 3
STEP = timedelta(minutes=15)
# A Tuesday morning, 5 s after the quarter hour (peak time of the time-of-use tariff).
T0 = datetime(2026, 11, 10, 9, 0, 5, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


class Site:
    """Every meter's registers, moved on by a realistic quarter hour of use per reading."""

    def __init__(self, meters: list[tuple[int, Utility]], seed: int = 20_000) -> None:
        self.rng = random.Random(seed)
        self.meters = meters
        # Wh for electricity, litres for water
        self.units = {
            meter_id: self.rng.randint(1_000_000, 20_000_000)
            if utility is Utility.ELECTRICITY
            else self.rng.randint(10_000, 500_000)
            for meter_id, utility in meters
        }
        self.power = dict.fromkeys(self.units, 0.0)
        self.clock = 1_000.0  # monotonic seconds of the pollers

    def batch(self, at: datetime, *, first: bool = False) -> list[Snapshot]:
        """One GOOD snapshot per meter at ``at``; unless ``first``, after a quarter of use."""
        rng = self.rng
        if not first:
            self.clock += STEP.total_seconds()
        out = []
        for meter_id, utility in self.meters:
            if utility is Utility.ELECTRICITY:
                if not first:
                    used = rng.randint(50, 800)  # 0.05 to 0.8 kWh in the quarter hour
                    self.units[meter_id] += used
                    self.power[meter_id] = used * 4.0  # its average power, W
                else:
                    self.power[meter_id] = rng.uniform(200.0, 3200.0)
                power = self.power[meter_id]
                voltage = rng.uniform(220.0, 235.0)
                factor = 0.9  # mixed loads: below the load guard's heater threshold (0.95)
                out.append(
                    Snapshot(
                        meter_id,
                        "1",
                        self.clock,
                        at,
                        Quality.GOOD,
                        voltage_v=round(voltage, 1),
                        current_a=round(power / (voltage * factor), 3),
                        power_w=round(power, 1),
                        power_factor=factor,
                        energy_import_kwh=self.units[meter_id] / 1000,
                        frequency_hz=50.0,
                        relay_closed=True,
                    )
                )
            else:
                if not first:
                    self.units[meter_id] += rng.choice((0, 0, 1, 2, 3, 5, 8, 12, 20))  # litres
                out.append(
                    Snapshot(
                        meter_id,
                        "1",
                        self.clock,
                        at,
                        Quality.GOOD,
                        volume_m3=self.units[meter_id] / 1000,
                        valve_open=True,
                    )
                )
        return out


def timed(action: Callable[[], R]) -> tuple[float, R]:
    began = time.perf_counter()
    result = action()
    return time.perf_counter() - began, result


def line(name: str, seconds: float, meters: int) -> str:
    return (
        f"{name}: {seconds:.2f} s, ratio {seconds / TARGET_S:.2f} to the {TARGET_S:.0f} s "
        f"target, {meters / seconds:,.0f} meters/s"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="One engine pass over 20,000 meters against a 2 s target "
        "(default: a temporary SQLite file in WAL mode)."
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--db",
        metavar="URL",
        help="run in this EMPTY database instead, e.g. "
        "postgresql+psycopg://user:password@host/bench (it keeps the seeded site)",
    )
    where.add_argument(
        "--postgres",
        action="store_true",
        help=f"run in a scratch PostgreSQL database made through the admin URL in "
        f"{ADMIN_URL_ENV} and dropped at the end",
    )
    return parser.parse_args(argv)


def open_empty(url: str) -> Database:
    """The database at ``url``, migrated, if it held nothing (``Unusable`` otherwise)."""
    try:
        check_database_url(url)
        db = Database(url)
        db.check_readable()
        if not schema_state(db).is_empty:
            db.dispose()
            raise Unusable(
                f"{db.display_name} already holds a MeterDesk schema; the benchmark seeds a "
                "site of its own into an EMPTY database: create a new one (createdb NAME) "
                "or use --postgres."
            )
        upgrade(db)
    except StoreError as exc:
        raise Unusable(str(exc)) from None
    return db


def describe(db: Database) -> str:
    if db.is_sqlite:
        return "SQLite file in WAL mode"
    with db.engine.connect() as conn:
        version = conn.execute(text("SHOW server_version")).scalar()
    return f"PostgreSQL {version} at {db.display_name}"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with ExitStack() as stack:
            if args.db:
                url = args.db
            elif args.postgres:
                url = stack.enter_context(scratch_postgres(admin_url_or_refuse()))
            else:
                url = sqlite_url_for(Path(stack.enter_context(tempfile.TemporaryDirectory())))
            db = open_empty(url)
            try:
                return run(db)
            finally:
                db.dispose()
    except Unusable as exc:
        print(f"cannot run: {exc}")
        return 2


def run(db: Database) -> int:
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.2f}), {describe(db)}"
    )
    failures: list[str] = []
    seed_s, summary = timed(lambda: seed_demo_site(db, SPEC))
    with db.session() as session:
        meters = [
            (meter_id, utility)
            for meter_id, utility in session.execute(
                select(Meter.id, Meter.utility).order_by(Meter.id)
            )
        ]
    count = len(meters)
    water = sum(1 for _, u in meters if u is Utility.WATER)
    print(
        f"seeded {summary.accounts:,} accounts and {count:,} meters "
        f"({count - water:,} electricity, {water:,} water) in {seed_s:.1f} s (not measured)"
    )
    if count < WANTED_METERS:
        failures.append(f"only {count} meters seeded, {WANTED_METERS} wanted")

    runtime = Runtime(db, RuntimeOptions(simulate=False), locks=SoleLocks())
    runtime.claim_field()  # the site's duties: fees, supply
    load_s, _ = timed(runtime.engine.load)
    runtime.live.define_groups(power_groups(db))  # as Runtime.start: site, building, floor
    site = Site(meters)
    batch = site.batch(T0, first=True)
    first_s, first = timed(lambda: runtime.engine.process(batch))
    print(
        f"engine.load {load_s:.2f} s; first reading of every meter {first_s:.2f} s "
        f"(baseline, not measured); live power history {runtime.live.nbytes / 1e6:,.0f} MB"
    )
    if first.readings != count:
        failures.append(f"first pass stored {first.readings} readings, not {count}")

    billing = runtime.billing

    def post(session: Session) -> None:  # the hourly posting, as the engine's tick runs it
        billing.post(session)

    reading_times: list[float] = []
    posting_times: list[float] = []
    for n in range(1, REPEATS + 1):
        batch = site.batch(T0 + n * STEP)
        postings, charges = billing.totals.postings, billing.totals.charges
        seconds, result = timed(partial(runtime.engine.process, batch))
        reading_times.append(seconds)
        stored, held = result.readings, result.held
        if stored != count or held:
            failures.append(f"pass {n}: {stored} readings stored and {held} held of {count}")
        print(
            line(f"pass {n} readings", seconds, count)
            + f"; {stored:,} readings, posted at once (credit region crossed): "
            f"{billing.totals.postings - postings} accounts, "
            f"{billing.totals.charges - charges} usage charges"
        )

        postings, charges = billing.totals.postings, billing.totals.charges
        seconds, _ = timed(lambda: runtime.engine.process([post]))
        posting_times.append(seconds)
        print(
            line(f"pass {n} posting ", seconds, count)
            + f"; {billing.totals.postings - postings:,} consumption entries, "
            f"{billing.totals.charges - charges:,} usage charges"
        )
        waiting = sum(1 for bill in billing.bills.values() if bill.waiting)
        if waiting:
            failures.append(f"pass {n}: {waiting} meters still have charges waiting")

    for name, times in (("readings pass", reading_times), ("posting pass ", posting_times)):
        median, worst = statistics.median(times), max(times)
        print(
            f"{name}: median {median:.2f} s (ratio {median / TARGET_S:.2f}), "
            f"worst {worst:.2f} s (ratio {worst / TARGET_S:.2f}) over {REPEATS} runs"
        )

    report = verify_ledger(db)
    with db.session() as session:
        readings = session.scalar(
            select(func.count())
            .select_from(IntervalReading)
            .where(IntervalReading.quality == ReadingQuality.GOOD)
        )
        rows = session.scalar(select(func.count()).select_from(IntervalReading))
        charge_rows = session.scalar(select(func.count()).select_from(UsageCharge))
        charged = session.scalar(select(func.sum(UsageCharge.amount_minor)))
        by_day = session.scalar(select(func.sum(ChargeDay.amount_minor)))
    passes = REPEATS + 1
    print(
        f"check: ledger verify {'ok' if report.ok else 'FAILED'} ({report.entries:,} entries); "
        f"{readings:,} interval readings stored for {count:,} meters x {passes} passes; "
        f"{charge_rows:,} usage charges"
    )
    if not report.ok:
        failures += [str(problem) for problem in report.problems[:5]]
    if readings != rows or readings != count * passes:
        failures.append(f"{rows} interval readings stored, {count * passes} expected")
    if billing.totals.unpriced:
        failures.append(f"{billing.totals.unpriced} readings could not be priced")
    if charged != by_day:
        failures.append(f"charge_day holds {by_day} minor units, the usage charges {charged}")
    if charge_rows != billing.totals.charges:
        failures.append(f"{charge_rows} usage charges stored, {billing.totals.charges} posted")
    for failure in failures:
        print(f"WRONG: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
