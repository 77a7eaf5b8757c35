"""The runtime on a seeded site: simulated lines polled, readings stored, threads stopped."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from app.demo.site import DemoSpec, seed_demo_site
from app.hardware.bus_worker import PollPolicy
from app.runtime.runtime import Runtime, RuntimeOptions
from app.store.database import Database
from app.store.models import Bus, IntervalReading, Meter, RatingState
from app.vocabulary import ReadingQuality, Utility
from tests.support import wait_for


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
        site_load = runtime.live.latest("site")  # live power for the charts
        floor_load = runtime.live.latest("floor:B-1")
    finally:
        runtime.stop()
    assert not runtime.engine.alive
    assert not any(w.alive for w in runtime.workers)
    assert not runtime.problems
    assert site_load is not None
    assert floor_load is not None
    assert site_load[1] >= floor_load[1] >= 0  # at night a room may well draw nothing
    with db.session() as session:
        rows = session.execute(select(Meter.profile, Meter.last_seen_at, Meter.relay_closed)).all()
        stored = session.execute(select(IntervalReading.meter_id, IntervalReading.read_at)).all()
        rating_states = session.scalar(select(func.count()).select_from(RatingState))
    assert rating_states == meters  # each first reading is where billing starts, saved at once
    assert all(seen is not None for _, seen, _ in rows)
    assert all(closed is True for _, _, closed in rows)  # relays closed, valves open
    assert {profile for profile, _, _ in rows} >= {"dlt645-2007", "acrel-ddsy1352", "cjt188-water"}
    # One per meter and interval, not one per poll (a run may cross a quarter-hour boundary).
    slots = Counter((meter_id, int(at.timestamp()) // 900) for meter_id, at in stored)
    assert set(slots.values()) == {1}
    assert len({meter_id for meter_id, _ in stored}) == meters


def test_a_dead_meter_goes_offline_with_an_alarm_and_comes_back(db: Database) -> None:
    from app.store.models import Alarm, Bus
    from app.vocabulary import AlarmState, MeterStatus

    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2))
    with db.session() as session:
        meter, url = session.execute(
            select(Meter, Bus.url)
            .join(Bus, Meter.bus_id == Bus.id)
            .where(Meter.serial.startswith("E"))
            .order_by(Meter.id)
        ).first()  # type: ignore[misc]
    runtime = Runtime(
        db,
        RuntimeOptions(poll=PollPolicy(cycle_pause_s=0.1, offline_probe_s=0.5), policy_tick_s=3600),
    )
    runtime.start()

    def state() -> tuple[MeterStatus, list[AlarmState]]:
        with db.session() as session:
            status = session.get_one(Meter, meter.id).status
            alarms = list(
                session.scalars(
                    select(Alarm.state).where(
                        Alarm.meter_id == meter.id, Alarm.kind == "meter_offline"
                    )
                )
            )
        return status, alarms

    def wait(condition, what: str) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 40
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting until {what}"
            time.sleep(0.1)

    try:
        assert runtime.sim is not None
        simulated = runtime.sim.meter(url, meter.address)
        simulated.faults.dead = True
        wait(lambda: state()[0] is MeterStatus.OFFLINE, "the meter was marked offline")
        assert state()[1] == [AlarmState.ACTIVE]
        simulated.faults.dead = False
        wait(lambda: state()[0] is MeterStatus.ACTIVE, "the meter came back")
        assert state()[1] == [AlarmState.CLEARED]
    finally:
        runtime.stop()


# Runs on SQLite only: what it checks does not depend on the database, the other runtime
# tests cover PostgreSQL, and it takes half a minute.
@pytest.mark.parametrize("migrated_url", ["sqlite"], indirect=True)
def test_a_restarted_site_counts_on_from_its_stored_registers(db: Database) -> None:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=4))
    with db.session() as session:
        meters = session.scalar(select(func.count()).select_from(Meter))
        meter_id, meter, url = session.execute(
            select(Meter.id, Meter.address, Bus.url)
            .join(Bus, Bus.id == Meter.bus_id)
            .where(Meter.utility == Utility.ELECTRICITY)
            .order_by(Meter.id)
        ).first()  # type: ignore[misc]

    def stored_kwh() -> float:
        with db.session() as session:
            units = session.scalar(
                select(func.max(IntervalReading.register_units)).where(
                    IntervalReading.meter_id == meter_id,
                    IntervalReading.quality == ReadingQuality.GOOD,
                )
            )
        return (units or 0) / 1000

    options = RuntimeOptions(time_scale=8, interval_s=1, poll=PollPolicy(cycle_pause_s=0.2))
    first = Runtime(db, options)
    first.start()
    try:
        assert first.sim is not None
        first.sim.meter(url, meter).switch_on_heater(
            1000.0, duration_s=3600
        )  # 8 kW: within its rating
        wait_for(lambda: stored_kwh() > 0, "the first reading")
        start = stored_kwh()
        wait_for(lambda: stored_kwh() >= start + 0.03, "the heater's usage was stored")
    finally:
        first.stop()
    second = Runtime(db, options)  # the console started again
    second.start()
    try:
        wait_for(lambda: second.engine.totals.readings >= 2 * meters, "the meters were read")
    finally:
        second.stop()
    # its simulated meters went on from the stored registers: none read as gone backwards
    assert second.engine.totals.held == 0
