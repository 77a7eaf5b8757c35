"""A running console takes set-up changes up without a restart: a new bus and meter are polled
and billed from their initial reading, a retired meter is no longer polled (and stays retired
though a poll of it was on the wire), a disabled bus lets its line go, and new load-guard
settings reach the meters' guards; all driven by the field revision, as a change made on
another PC or by the command line would be. A bus restarts only when what its worker is built
from changed (port, line settings, meters' addresses and profiles)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.load_guard import GuardMode, LoadGuardParams
from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.hardware.bus_worker import PollPolicy
from app.runtime.runtime import Runtime, RuntimeOptions
from app.services.account_life import open_account
from app.services.bus_setup import BusForm, add_bus, change_bus
from app.services.load_guard_setup import save_load_guard
from app.services.meter_setup import MeterForm, add_meter, retire_meter
from app.services.operators import SignedIn, login
from app.services.recharge import new_key
from app.services.setup_checks import field_revision, in_transaction
from app.services.site_layout import add_room
from app.store.database import Database
from app.store.models import Bus, IntervalReading, Meter
from app.vocabulary import MeterStatus, Utility
from tests.integration.runtime.runtime_support import polling
from tests.support import wait_for


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=4))
    return db


@pytest.fixture
def running(site: Database) -> Iterator[Runtime]:
    with polling(site, cycle_pause_s=0.05) as runtime:
        yield runtime


def admin(db: Database) -> SignedIn:
    return login(db, "admin", DEMO_PASSWORD)


def polled_buses(runtime: Runtime) -> set[str]:
    return {w.name for w in runtime.workers}


def revision(db: Database) -> int:
    with db.session() as session:
        return field_revision(session)


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


def test_an_account_opened_on_a_room_leaves_its_bus_polling_on(
    site: Database, running: Runtime
) -> None:
    """Opening an account moves no field revision; the next unrelated change restarts only
    the bus it changed, not the bus whose meter has an account now."""
    who = admin(site)
    in_transaction(site, add_bus, who, BusForm("Account line", "sim://acct-line", "hiking-dds238"))
    in_transaction(site, add_room, who, "Block A", 1, "160")
    saved = in_transaction(
        site, add_meter, who, MeterForm("HX-160", "Account line", "7", room="A-160")
    )
    wait_for(lambda: running.latest_snapshot(saved.meter_id) is not None, "the new bus is polled")
    worker = next(w for w in running.workers if w.name == "Account line")
    before = revision(site)

    open_account(
        site,
        who,
        "Li Wei",
        "",
        "",
        "A-160",
        {Utility.ELECTRICITY: "Dormitory electricity"},
        "Student dormitory",
        "0",
        None,
        new_key(),
    )
    with site.session() as session:
        assert session.get_one(Meter, saved.meter_id).account_id is not None
    assert revision(site) == before

    # Unrelated changes: the water bus is let go, then polled again (each change is taken up
    # whole before the next); the account's bus polls on, untouched.
    water = next(name for name in polled_buses(running) if "water" in name)
    in_transaction(site, change_bus, who, water, enabled=False)
    wait_for(lambda: water not in polled_buses(running), "the disabled bus is let go")
    in_transaction(site, change_bus, who, water, enabled=True)
    wait_for(lambda: water in polled_buses(running), "the enabled bus is polled again")
    assert [w for w in running.workers if w.name == "Account line"] == [worker]
    assert worker.alive


def test_a_meter_that_cannot_be_set_up_is_reported_once_however_often_its_bus_restarts(
    site: Database,
) -> None:
    # No simulated lines: a simulated meter needs its profile too; the buses' workers are
    # started all the same (each keeps trying to open its port).
    runtime = Runtime(site, RuntimeOptions(simulate=False, policy_tick_s=3600))
    runtime.start()
    try:
        who = admin(site)
        water = next(name for name in polled_buses(runtime) if "water" in name)
        with site.transaction() as session:
            meter = session.scalars(
                select(Meter).join(Bus, Meter.bus_id == Bus.id).where(Bus.name == water)
            ).first()
            assert meter is not None
            meter.profile = "no-such-profile"  # as a profile file removed from the PC would
        assert runtime.problems == []
        for timeout_ms in (700, 800):  # each change restarts the bus
            in_transaction(site, change_bus, who, water, timeout_ms=str(timeout_ms))
            wait_for(
                lambda ms=timeout_ms: any(
                    w.name == water and w.settings.timeout_s == ms / 1000 for w in runtime.workers
                ),
                "the bus restarted with its new line settings",
            )
            assert len(runtime.problems) == 1, runtime.problems
            assert "no-such-profile" in runtime.problems[0]
    finally:
        runtime.stop()


def test_the_policy_tick_reads_no_load_guard_settings_and_a_saved_change_still_arrives(
    site: Database,
) -> None:
    """The supply policy runs every tick here; load-guard settings are read again only when
    the field revision moves (saving them moves it)."""
    runtime = Runtime(site, RuntimeOptions(poll=PollPolicy(cycle_pause_s=0.05), policy_tick_s=0.1))
    calls = {"refresh": 0, "settings": 0}
    refresh, settings_changed = runtime.billing.refresh, runtime.load.settings_changed

    def counted_refresh(session: Session) -> set[int]:
        calls["refresh"] += 1
        return refresh(session)

    def counted_settings(session: Session) -> None:
        calls["settings"] += 1
        settings_changed(session)

    runtime.billing.refresh = counted_refresh  # type: ignore[method-assign]
    runtime.load.settings_changed = counted_settings  # type: ignore[method-assign]
    with site.session() as session:
        meter_id = session.scalars(
            select(Meter.id).where(Meter.serial.startswith("E")).order_by(Meter.id)
        ).first()
    assert meter_id is not None
    runtime.start()
    try:
        wait_for(lambda: runtime.load.guards.get(meter_id) is not None, "the meter has a guard")
        ticks = calls["refresh"]
        wait_for(lambda: calls["refresh"] >= ticks + 3, "three more policy ticks")
        assert calls["settings"] == 0
        guard = runtime.load.guards[meter_id]
        assert guard is not None
        stricter = LoadGuardParams(
            total_mode=GuardMode.ALARM, total_limit_w=1500, total_duration_s=10
        )
        in_transaction(site, save_load_guard, admin(site), stricter)
        wait_for(lambda: guard.params.total_limit_w == 1500, "the guard has the new limit")
        assert calls["settings"] == 1
    finally:
        runtime.stop()
