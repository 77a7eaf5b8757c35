"""An operator's switch and load-guard restore through a real Runtime on simulated lines: the
command is verified by read-back, a manual cut stays off through the balance policy, a switch on
in arrears is refused, and a locked-out room comes back after an operator's restore."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from app.billing.load_guard import GuardState
from app.demo.site import DEMO_PASSWORD
from app.runtime.runtime import Runtime
from app.services.meter_actions import MeterActionRefused
from app.services.operators import SignedIn, login
from app.services.permissions import PermissionDenied
from app.store.database import Database
from app.store.models import (
    Account,
    Alarm,
    Bus,
    LoadTrip,
    Meter,
    RelayCommand,
)
from app.vocabulary import AlarmState, CommandState, RelayAction, Role, SupplyState
from tests.integration.runtime.runtime_support import polling, strict_demo_site
from tests.support import wait_for

WAIT_S = 60  # a bound for a stuck test, never a measurement


@pytest.fixture
def site(db: Database) -> Database:
    return strict_demo_site(db)


@pytest.fixture
def running(site: Database) -> Iterator[Runtime]:
    with polling(site) as runtime:
        yield runtime


def who(db: Database, role: Role) -> SignedIn:
    return login(db, role.value, DEMO_PASSWORD)


def healthy_meter(db: Database) -> tuple[Meter, str, int]:
    """An electricity meter of an account with money, its bus URL, its account id."""
    with db.session() as session:
        account = session.scalars(
            select(Account).where(Account.balance_minor > 5000).order_by(Account.id)
        ).first()
        assert account is not None
        meter, url = session.execute(
            select(Meter, Bus.url)
            .join(Bus, Meter.bus_id == Bus.id)
            .where(Meter.account_id == account.id, Meter.serial.startswith("E"))
        ).one()
        return meter, url, account.id


def commands(db: Database, meter_id: int) -> list[RelayCommand]:
    with db.session() as session:
        return list(
            session.scalars(
                select(RelayCommand)
                .where(RelayCommand.meter_id == meter_id)
                .order_by(RelayCommand.id)
            )
        )


def stored(db: Database, meter_id: int) -> Meter:
    with db.session() as session:
        return session.get_one(Meter, meter_id)


def test_a_manual_cut_is_verified_and_stays_off_through_the_policy(
    running: Runtime, site: Database
) -> None:
    meter, url, account_id = healthy_meter(site)
    assert running.sim is not None
    simulated = running.sim.meter(url, meter.address)
    wait_for(lambda: running.engine.totals.readings >= 4, "the meters were polled")
    boss = who(site, Role.SUPERVISOR)

    # A cashier may not: the future fails with the refusal, nothing is sent.
    refused = running.switch_relay(meter.id, False, who(site, Role.CASHIER).operator_id, "no")
    assert isinstance(refused.exception(timeout=WAIT_S), PermissionDenied)
    assert commands(site, meter.id) == []
    assert simulated.supply_on

    outcome = running.switch_relay(meter.id, False, boss.operator_id, "tenant moved out").result(
        timeout=WAIT_S
    )
    assert outcome.verified
    assert outcome.state is CommandState.VERIFIED
    assert outcome.supply_on is False
    assert not simulated.supply_on
    (cut,) = commands(site, meter.id)
    assert cut.id == outcome.command_id
    assert cut.action is RelayAction.CUT_SUPPLY
    assert cut.requested_by_id == boss.operator_id
    assert cut.state is CommandState.VERIFIED
    after_cut = stored(site, meter.id)
    assert after_cut.off_reason == "manual"
    assert after_cut.relay_closed is False
    assert after_cut.relay_verified_at is not None

    # The balance policy (a healthy account: it would restore a cut for arrears) leaves a
    # manual cut alone.
    running.account_changed(account_id)
    assert running.post_and_wait([account_id])  # runs after that evaluation was committed
    running.engine.call(lambda session: running.control.evaluate(session, None))
    assert running.post_and_wait([account_id])
    assert [c.id for c in commands(site, meter.id)] == [cut.id]
    assert not simulated.supply_on
    assert stored(site, meter.id).off_reason == "manual"

    # Cut off for arrears: switching on is refused with the reason.
    with site.transaction() as session:
        session.execute(
            update(Account).where(Account.id == account_id).values(supply_state=SupplyState.CUT_OFF)
        )
    arrears = running.switch_relay(meter.id, True, boss.operator_id, "please").exception(
        timeout=WAIT_S
    )
    assert isinstance(arrears, MeterActionRefused)
    assert "cut off for arrears" in str(arrears)
    with site.transaction() as session:
        session.execute(
            update(Account).where(Account.id == account_id).values(supply_state=SupplyState.NORMAL)
        )

    back = running.switch_relay(meter.id, True, boss.operator_id, "tenant is back").result(
        timeout=WAIT_S
    )
    assert back.verified
    assert back.supply_on is True
    assert simulated.supply_on
    assert stored(site, meter.id).off_reason is None


def test_a_locked_out_room_comes_back_after_an_operator_restore(
    running: Runtime, site: Database
) -> None:
    meter, url, _account_id = healthy_meter(site)
    assert running.sim is not None
    simulated = running.sim.meter(url, meter.address)
    wait_for(lambda: running.engine.totals.readings >= 4, "the meters were polled")
    simulated.switch_on_heater(power_w=1800, power_factor=0.99, duration_s=3600)

    def trips() -> list[LoadTrip]:
        with site.session() as session:
            return list(
                session.scalars(
                    select(LoadTrip).where(LoadTrip.meter_id == meter.id).order_by(LoadTrip.id)
                )
            )

    wait_for(lambda: bool(trips()) and trips()[0].locked_out, "the lock-out")
    wait_for(lambda: not simulated.supply_on, "the trip cut the supply")
    assert stored(site, meter.id).off_reason == "load_guard"
    tech = who(site, Role.TECHNICIAN)

    # While the guard holds it, a plain switch on is refused: the restore re-arms the guard.
    held = running.switch_relay(meter.id, True, tech.operator_id, "try").exception(WAIT_S)
    assert isinstance(held, MeterActionRefused)
    assert "Restore load guard" in str(held)
    denied = running.restore_load_guard(meter.id, who(site, Role.CASHIER).operator_id, "ok")
    assert isinstance(denied.exception(WAIT_S), PermissionDenied)

    simulated.switch_on_heater(power_w=0.0, power_factor=1.0, duration_s=0)  # unplugged
    outcome = running.restore_load_guard(meter.id, tech.operator_id, "Heater taken away").result(
        timeout=WAIT_S
    )
    assert outcome.trip_id == trips()[0].id
    assert outcome.stays_off == ""
    assert outcome.switch is not None
    assert outcome.switch.verified
    assert simulated.supply_on
    guard = running.load.guards[meter.id]
    assert guard is not None
    assert guard.state is GuardState.ARMED
    (trip,) = trips()
    assert trip.restored_by_id == tech.operator_id
    assert trip.restored_at is not None
    assert trip.note.endswith("Restored by Bus technician: Heater taken away")
    assert stored(site, meter.id).off_reason is None
    restore = commands(site, meter.id)[-1]
    assert restore.action is RelayAction.OPEN_SUPPLY
    assert restore.requested_by_id == tech.operator_id
    with site.session() as session:
        lockouts = list(
            session.scalars(
                select(Alarm).where(Alarm.meter_id == meter.id, Alarm.kind == "load_guard_lockout")
            )
        )
    assert lockouts
    assert all(a.state is AlarmState.CLEARED for a in lockouts)

    # The guard watches again and the room stays on (the snapshots after the restore are fed
    # without a fault: their times follow the restore's).
    seen = running.engine.totals.snapshots
    wait_for(lambda: running.engine.totals.snapshots >= seen + 10, "more polls")
    assert simulated.supply_on
    assert len(trips()) == 1
    assert running.latest_snapshot(meter.id) is not None
