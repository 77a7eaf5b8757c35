"""A heater trips the room, the trip holds its evidence, restores are capped, then lock-out."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select, update

from app.demo.site import DEMO_LOAD_GUARD, DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.hardware.bus_worker import PollPolicy
from app.hardware.sms.sim_modem import SimModem
from app.runtime.runtime import Runtime, RuntimeOptions
from app.services.operators import login
from app.services.settings import SMS_PORT, SMS_QUIET_HOURS, change_setting
from app.store.database import Database
from app.store.models import Account, Alarm, Bus, LoadGuardSetting, LoadTrip, Meter
from tests.support import socat_pair, wait_for


def guarded_site(db: Database, restore_delay_s: float, max_restores: int) -> tuple[Meter, str]:
    """A 4-room demo site with quick load-guard restores; the electricity meter (and its bus
    URL) of an account with money."""
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=4))
    with db.transaction() as session:
        session.execute(
            update(LoadGuardSetting).values(
                params={
                    **DEMO_LOAD_GUARD,
                    "restore_delay_s": restore_delay_s,
                    "max_auto_restores_per_day": max_restores,
                }
            )
        )
        account = session.scalars(
            select(Account).where(Account.balance_minor > 5000).order_by(Account.id)
        ).first()
        assert account is not None
        meter, url = session.execute(
            select(Meter, Bus.url)
            .join(Bus, Meter.bus_id == Bus.id)
            .where(Meter.account_id == account.id, Meter.serial.startswith("E"))
        ).one()
    return meter, url


def test_a_heater_trips_is_restored_once_then_locks_out(db: Database) -> None:
    # Quick restores for the test, one automatic restore a day.
    meter, url = guarded_site(db, restore_delay_s=1, max_restores=1)
    # The tenant is texted through a simulated modem on a pty pair.
    console, far_end, close = socat_pair()
    boss = login(db, "supervisor", DEMO_PASSWORD)
    with db.transaction() as session:
        change_setting(session, boss, SMS_PORT, console)
        change_setting(session, boss, SMS_QUIET_HOURS, "none")
        session.get_one(Account, meter.account_id).phone = "13800138000"
    modem = SimModem(far_end)
    modem.start()
    runtime = Runtime(
        db,
        RuntimeOptions(poll=PollPolicy(cycle_pause_s=0.0), policy_tick_s=3600, notice_s=0.2),
    )
    runtime.start()
    try:
        assert runtime.sim is not None
        simulated = runtime.sim.meter(url, meter.address)
        wait_for(lambda: runtime.engine.totals.readings >= 4, "the meters were polled")
        simulated.switch_on_heater(power_w=1800, power_factor=0.99, duration_s=3600)

        def trips() -> list[LoadTrip]:
            with db.session() as session:
                return list(
                    session.scalars(
                        select(LoadTrip).where(LoadTrip.meter_id == meter.id).order_by(LoadTrip.id)
                    )
                )

        wait_for(lambda: len(trips()) >= 1 and not simulated.supply_on, "the heater tripped")
        first = trips()[0]
        assert first.mode == "increment"
        assert first.delta_power_w is not None
        assert first.delta_power_w > 1000
        assert first.power_factor is not None
        assert first.power_factor >= 0.95
        assert first.band == 2
        # The automatic restore brings the heater back; it trips again and locks out.
        wait_for(lambda: len(trips()) >= 2, "the second trip")
        wait_for(lambda: trips()[-1].locked_out, "the lock-out")

        def kinds() -> set[str]:
            with db.session() as session:
                return set(session.scalars(select(Alarm.kind).where(Alarm.meter_id == meter.id)))

        wait_for(lambda: {"load_guard_trip", "load_guard_lockout"} <= kinds(), "the alarms")
        time.sleep(2.0)  # locked out: no automatic restore however long it waits
        assert not simulated.supply_on
        with db.session() as session:
            assert session.get_one(Meter, meter.id).off_reason == "load_guard"
        # Texted: each trip, and the supply back on after the first.
        assert modem.wait_sent(3, timeout_s=10), [m.text for m in modem.sent]
        texts = [m.text for m in modem.sent]
        assert sum("is not allowed" in text for text in texts) == 2
        assert sum("is back on" in text for text in texts) == 1
        assert {m.to for m in modem.sent} == {"13800138000"}
    finally:
        runtime.stop()
        modem.stop()
        close()


# Runs on SQLite only: what it checks does not depend on the database, the other runtime
# tests cover PostgreSQL, and it takes over ten seconds.
@pytest.mark.parametrize("migrated_url", ["sqlite"], indirect=True)
def test_an_operators_cut_after_a_trip_is_not_undone_by_the_automatic_restore(
    db: Database,
) -> None:
    meter, url = guarded_site(db, restore_delay_s=3, max_restores=5)
    admin = login(db, "admin", DEMO_PASSWORD)
    runtime = Runtime(db, RuntimeOptions(poll=PollPolicy(cycle_pause_s=0.0), policy_tick_s=3600))
    runtime.start()
    try:
        assert runtime.sim is not None
        simulated = runtime.sim.meter(url, meter.address)
        wait_for(lambda: runtime.engine.totals.readings >= 4, "the meters were polled")
        simulated.switch_on_heater(power_w=1800, power_factor=0.99, duration_s=3600)
        wait_for(lambda: not simulated.supply_on, "the heater tripped")
        runtime.switch_relay(
            meter.id, False, admin.operator_id, "Keep it off: wiring check"
        ).result(30)
        time.sleep(5.0)  # the automatic restore was due after 3 s
        assert not simulated.supply_on
        with db.session() as session:
            assert session.get_one(Meter, meter.id).off_reason == "manual"
    finally:
        runtime.stop()
