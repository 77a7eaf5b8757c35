"""Storage of a year: how large the SQLite file grows for 2,000 meters polled every minute.

A demo site of about 2,000 meters (electricity with four rate registers, water) runs through the
real engine for one simulated day: every meter polled each minute (1,440 snapshots a meter),
readings stored per 15-minute interval, usage rated and posted on the hour, fees charged. The
growth of the database file over that day, times 365, is the year; printed against a bound of
16 GB (a file an office PC's disk holds many times over, in which every lookup of the engine and
the screens goes through an index). Also prints rows per table per day and bytes per interval
reading.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, text

from app.demo.site import DemoSpec, seed_demo_site
from app.hardware.snapshot import Quality, Snapshot
from app.runtime.runtime import Runtime, RuntimeOptions
from app.services.ledger_verify import verify_ledger
from app.store.database import Database
from app.store.field_lock import SoleLocks
from app.store.migrate import upgrade
from app.store.models import IntervalReading, LedgerEntry, Meter, UsageCharge
from app.vocabulary import Utility

BOUND_GB = 16.0
SPEC = DemoSpec(buildings=4, floors=10, rooms_per_floor=34)  # 1,360 rooms: 2,040 meters
START = datetime(2026, 11, 2, 16, 0, 5, tzinfo=UTC)  # midnight, Tuesday, in Shanghai


def file_bytes(db: Database) -> int:
    with db.session() as session:
        pages = session.execute(text("PRAGMA page_count")).scalar_one()
        size = session.execute(text("PRAGMA page_size")).scalar_one()
        free = session.execute(text("PRAGMA freelist_count")).scalar_one()
    return int((pages - free) * size)


def counts(db: Database) -> dict[str, int]:
    with db.session() as session:
        return {
            model.__tablename__: int(session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (IntervalReading, UsageCharge, LedgerEntry)
        }


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="meterdesk-storage-"))
    db = Database(f"sqlite:///{folder / 'site.db'}")
    upgrade(db)
    seed_demo_site(db, SPEC)
    with db.session() as session:
        meters = list(session.execute(select(Meter.id, Meter.utility)).all())
    runtime = Runtime(db, RuntimeOptions(simulate=False), locks=SoleLocks())
    runtime.claim_field()  # the site's duties: fees, supply
    runtime.engine.load()
    rng = random.Random(7)
    registers = {meter_id: [1000.0, 250.0, 250.0, 250.0, 250.0] for meter_id, _ in meters}
    # the first interval's readings: every meter's baseline, before the day is measured
    batch = [snapshot(m, u, START - timedelta(minutes=15), registers[m], rng) for m, u in meters]
    runtime.engine.process(batch)
    before, rows_before = file_bytes(db), counts(db)
    started = time.perf_counter()
    for minute in range(24 * 60):
        at = START + timedelta(minutes=minute)
        batch = [snapshot(m, u, at, registers[m], rng) for m, u in meters]
        runtime.engine.process(batch)
        if minute % 60 == 59:  # the hour strikes
            runtime.engine.process([lambda session: runtime.billing.post(session)])
    seconds = time.perf_counter() - started
    grown = file_bytes(db) - before
    rows = {name: n - rows_before[name] for name, n in counts(db).items()}
    year_gb = grown * 365 / 1e9
    report = verify_ledger(db)
    print(
        f"{len(meters)} meters, one day polled every minute ({24 * 60 * len(meters):,} "
        f"snapshots) through the engine in {seconds:.0f} s"
    )
    for name, n in rows.items():
        print(f"  {name}: {n:,} rows a day")
    per_reading = grown / max(rows["interval_reading"], 1)
    print(
        f"  file grew {grown / 1e6:.1f} MB in the day ({per_reading:.0f} bytes per interval "
        "reading, with its share of charges and entries)"
    )
    print(f"a year: {year_gb:.2f} GB; bound {BOUND_GB} GB: ratio {year_gb / BOUND_GB:.2f}")
    if not report.ok:
        print("ledger verify failed:", *report.problems, sep="\n  ")
        return 1
    return 0 if year_gb <= BOUND_GB else 1


def snapshot(
    meter_id: int, utility: Utility, at: datetime, reg: list[float], rng: random.Random
) -> Snapshot:
    if utility is Utility.ELECTRICITY:
        watts = rng.uniform(40, 900)
        kwh = watts / 60_000
        reg[0] += kwh
        reg[1 + (at.hour // 6)] += kwh
        return Snapshot(
            meter_id, "1", at.timestamp(), at, Quality.GOOD,
            voltage_v=230.0, current_a=watts / 230, power_w=watts, power_factor=0.9,
            energy_import_kwh=round(reg[0], 3), energy_rate_1_kwh=round(reg[1], 3),
            energy_rate_2_kwh=round(reg[2], 3), energy_rate_3_kwh=round(reg[3], 3),
            energy_rate_4_kwh=round(reg[4], 3), relay_closed=True,
        )  # fmt: skip
    reg[0] += rng.choice((0.0, 0.0, 0.0, 0.002, 0.006))
    return Snapshot(
        meter_id, "1", at.timestamp(), at, Quality.GOOD, volume_m3=round(reg[0], 3),
        valve_open=True,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
