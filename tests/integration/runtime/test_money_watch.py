"""Counter work done in another process reaches a running runtime within seconds: a balance
taken below the limit there cuts the room, and a recharge from the command line restores it,
with no call from that process and long before the minute's evaluation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.hardware.bus_worker import PollPolicy
from app.runtime.runtime import Runtime, RuntimeOptions
from app.services.ledger import post_entry
from app.store.database import Database
from app.store.models import (
    Account,
    BalancePolicy,
    Bus,
    IntervalReading,
    LoadGuardSetting,
    Meter,
    UsageCharge,
)
from app.vocabulary import LedgerKind, SupplyState, Utility
from tests.support import run_python, wait_for

# On a copy of the session's migrated database, SQLite only (as before): the recharge from
# another process is ``main.py --data-dir`` on the database's folder.
SQLITE = pytest.mark.parametrize("migrated_url", ["sqlite"], indirect=True)


def small_site(url: str) -> Database:
    """Two rooms of the demo site in the migrated database at ``url``, with no load guard
    (tests drive the load)."""
    db = Database(url)
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2))
    with db.transaction() as session:
        session.execute(delete(LoadGuardSetting))
    return db


def first_electricity_meter(session: Session) -> tuple[Meter, str]:
    """The first electricity meter and its bus URL."""
    found = session.execute(
        select(Meter, Bus.url)
        .join(Bus, Bus.id == Meter.bus_id)
        .where(Meter.utility == Utility.ELECTRICITY)
        .order_by(Meter.id)
    ).first()
    assert found is not None
    return found[0], found[1]


@SQLITE
def test_a_recharge_from_another_process_restores_supply(migrated_url: str) -> None:
    db = small_site(migrated_url)
    assert db.file_path is not None
    folder = db.file_path.parent
    with db.transaction() as session:
        meter, url = first_electricity_meter(session)
        policy = BalancePolicy(
            name="Test: no friendly hours",
            alarm_1_minor=600,
            alarm_2_minor=400,
            friendly_hours=[],
            friendly_dates=[],
        )
        session.add(policy)
        session.flush()
        account = session.get_one(Account, meter.account_id)
        account.policy_id = policy.id
        account_id, number, address = account.id, account.number, meter.address
    runtime = Runtime(
        db, RuntimeOptions(poll=PollPolicy(cycle_pause_s=0.1), interval_s=1, policy_tick_s=3600)
    )
    runtime.start()
    try:
        assert runtime.sim is not None
        simulated = runtime.sim.meter(url, address)
        wait_for(lambda: simulated.supply_on, "the meter is on")
        other = Database(migrated_url)  # another process's view of the same file
        with other.transaction() as session:
            balance = session.get_one(Account, account_id).balance_minor
            post_entry(
                session, account_id, LedgerKind.ADJUSTMENT, -balance - 100, reason="test: owes 1"
            )
        other.dispose()

        def state() -> SupplyState:
            with db.session() as session:
                return session.get_one(Account, account_id).supply_state

        wait_for(lambda: state() is SupplyState.CUT_OFF, "cut off after the adjustment", 20)
        wait_for(lambda: not simulated.supply_on, "the relay opened", 20)
        paid = run_python(
            ["main.py", "account", "recharge", "--account", number, "--amount", "30",
             "--method", "cash", "--user", "cashier", "--data-dir", str(folder)],
            env={"METERDESK_PASSWORD": DEMO_PASSWORD},
        )  # fmt: skip
        assert paid.returncode == 0, paid.stderr
        wait_for(lambda: simulated.supply_on, "the relay closed after the recharge", 20)
        assert state() is SupplyState.NORMAL
    finally:
        runtime.stop()
        db.dispose()


@SQLITE
def test_post_and_wait_returns_once_the_waiting_usage_is_committed(migrated_url: str) -> None:
    """What settling an account calls first: the usage rated so far is in the ledger when it
    returns, so the final bill holds it."""
    db = small_site(migrated_url)
    with db.transaction() as session:
        meter, url = first_electricity_meter(session)
        meter.rated_current_a = 10_000
        account_id, address, meter_id = meter.account_id, meter.address, meter.id
        balance = session.get_one(Account, account_id).balance_minor
        post_entry(  # far from any threshold: nothing is posted at once on a crossing
            session, account_id, LedgerKind.ADJUSTMENT, 1_000_000 - balance, reason="test"
        )
        session.get_one(Account, account_id).supply_state = SupplyState.NORMAL
    runtime = Runtime(
        db,
        RuntimeOptions(
            time_scale=100.0,
            poll=PollPolicy(cycle_pause_s=0.1),
            interval_s=1,
            policy_tick_s=3600,
            posting_s=3600,  # nothing is posted on its own during the test
        ),
    )
    runtime.start()
    try:
        assert runtime.sim is not None
        runtime.sim.meter(url, address).switch_on_heater(2000.0, duration_s=3600)

        def charged_kwh() -> Decimal:  # the demo's tariff has a free allowance: count energy
            with db.session() as session:
                return sum(
                    (
                        Decimal(q)
                        for q in session.scalars(
                            select(UsageCharge.quantity).where(UsageCharge.meter_id == meter_id)
                        )
                    ),
                    Decimal(0),
                )

        def readings() -> int:
            with db.session() as session:
                return len(
                    session.scalars(
                        select(IntervalReading.id).where(IntervalReading.meter_id == meter_id)
                    ).all()
                )

        wait_for(lambda: readings() >= 4, "usage rated", 30)
        assert charged_kwh() == 0  # nothing posted since the start
        assert runtime.post_and_wait([account_id], timeout_s=20)
        assert charged_kwh() > 0
    finally:
        runtime.stop()
        db.dispose()
