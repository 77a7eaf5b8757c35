"""A running console takes set-up changes up without a restart: a new bus and meter are polled
and billed from their initial reading, a retired meter is no longer polled (and stays retired
though a poll of it was on the wire), a disabled bus lets its line go, and new load-guard
settings reach the meters' guards; all driven by the field revision, as a change made on
another PC or by the command line would be."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from app.billing.load_guard import GuardMode, LoadGuardParams
from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.hardware.bus_worker import PollPolicy
from app.runtime.runtime import Runtime, RuntimeOptions
from app.services.bus_setup import BusForm, add_bus, change_bus
from app.services.load_guard_setup import save_load_guard
from app.services.meter_setup import MeterForm, add_meter, retire_meter
from app.services.operators import SignedIn, login
from app.services.setup_checks import in_transaction
from app.services.site_layout import add_room
from app.store.database import Database
from app.store.models import IntervalReading, Meter
from app.vocabulary import MeterStatus
from tests.support import wait_for


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=4))
    return db


@pytest.fixture
def running(site: Database) -> Iterator[Runtime]:
    runtime = Runtime(site, RuntimeOptions(poll=PollPolicy(cycle_pause_s=0.05), policy_tick_s=3600))
    runtime.start()
    yield runtime
    runtime.stop()
    assert not runtime.engine.alive


def admin(db: Database) -> SignedIn:
    return login(db, "admin", DEMO_PASSWORD)


def polled_buses(runtime: Runtime) -> set[str]:
    return {w.name for w in runtime.workers}


def test_a_new_bus_and_meter_are_polled_and_a_retired_one_is_let_go(
    site: Database, running: Runtime
) -> None:
    who = admin(site)
    assert "Extension line" not in polled_buses(running)
    in_transaction(site, add_bus, who, BusForm("Extension line", "sim://ext", "hiking-dds238"))
    in_transaction(site, add_room, who, "Block A", 1, "150")
    saved = in_transaction(
        site,
        add_meter,
        who,
        MeterForm("HX-150", "Extension line", "7", room="A-150", initial_reading="12.5"),
    )
    # Polled without a restart: the runtime saw the field revision move.
    wait_for(lambda: running.latest_snapshot(saved.meter_id) is not None, "the new meter is polled")
    assert "Extension line" in polled_buses(running)
    snapshot = running.latest_snapshot(saved.meter_id)
    assert snapshot is not None
    assert snapshot.energy_import_kwh is not None
    assert snapshot.energy_import_kwh >= 12.5
    # Its first stored reading is the initial one: billing starts from there.
    with site.session() as session:
        first = session.scalars(
            select(IntervalReading.register_units)
            .where(IntervalReading.meter_id == saved.meter_id)
            .order_by(IntervalReading.read_at)
        ).first()
    assert first == 12_500

    in_transaction(site, retire_meter, who, "HX-150", "")
    wait_for(lambda: "Extension line" not in polled_buses(running), "the emptied bus is let go")
    with site.session() as session:
        meter = session.get_one(Meter, saved.meter_id)
        assert (meter.status, meter.removed_at is not None) == (MeterStatus.REMOVED, True)


def test_a_disabled_bus_lets_its_line_go_and_comes_back_when_enabled(
    site: Database, running: Runtime
) -> None:
    who = admin(site)
    water = next(name for name in polled_buses(running) if "water" in name)
    in_transaction(site, change_bus, who, water, enabled=False)
    wait_for(lambda: water not in polled_buses(running), "the disabled bus is let go")
    in_transaction(site, change_bus, who, water, enabled=True)
    wait_for(lambda: water in polled_buses(running), "the enabled bus is polled again")


def test_new_load_guard_settings_reach_the_guards_and_keep_their_state(
    site: Database, running: Runtime
) -> None:
    with site.session() as session:
        meter_id = session.scalars(
            select(Meter.id).where(Meter.serial.startswith("E")).order_by(Meter.id)
        ).first()
    assert meter_id is not None
    wait_for(lambda: running.load.guards.get(meter_id) is not None, "the meter has a guard")
    guard = running.load.guards[meter_id]
    stricter = LoadGuardParams(total_mode=GuardMode.ALARM, total_limit_w=1500, total_duration_s=10)
    in_transaction(site, save_load_guard, admin(site), stricter)
    wait_for(lambda: guard.params.total_limit_w == 1500, "the guard has the new limit")
    assert running.load.guards[meter_id] is guard  # the same guard: its trips and count stay
    assert guard.params.increment_mode is GuardMode.OFF
