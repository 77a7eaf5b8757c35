"""The runtime on a seeded site: simulated lines polled, readings stored, threads stopped."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from app.hardware.bus_worker import PollPolicy
from app.runtime.runtime import Runtime, RuntimeOptions
from app.services.demo_site import DemoSpec, seed_demo_site
from app.store.database import Database
from app.store.models import IntervalReading, Meter


def test_every_meter_is_polled_and_its_first_reading_stored(db: Database) -> None:
    seed_demo_site(db, DemoSpec(buildings=2, floors=1, rooms_per_floor=4))
    with db.session() as session:
        meters = session.scalar(select(func.count()).select_from(Meter))
    runtime = Runtime(db, RuntimeOptions(poll=PollPolicy(cycle_pause_s=0.2)))
    runtime.start()
    try:
        deadline = time.monotonic() + 60
        while runtime.engine.totals.readings < meters:
            assert time.monotonic() < deadline, "not every meter was read within a minute"
            time.sleep(0.1)
    finally:
        runtime.stop()
    assert not runtime.engine.alive
    assert not any(w.alive for w in runtime.workers)
    assert not runtime.problems
    with db.session() as session:
        rows = session.execute(select(Meter.profile, Meter.last_seen_at, Meter.relay_closed)).all()
        readings = session.scalar(select(func.count()).select_from(IntervalReading))
    assert all(seen is not None for _, seen, _ in rows)
    assert all(closed is True for _, _, closed in rows)  # relays closed, valves open
    assert {profile for profile, _, _ in rows} >= {"dlt645-2007", "acrel-ddsy1352", "cjt188-water"}
    assert readings == meters  # one per meter in the first interval, not one per poll
