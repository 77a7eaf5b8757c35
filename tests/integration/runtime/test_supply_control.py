"""Cut on arrears and restore after a recharge, end to end on simulated lines."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from app.demo.site import DemoSpec, seed_demo_site
from app.hardware.bus_worker import PollPolicy
from app.runtime.runtime import Runtime, RuntimeOptions
from app.services.ledger import post_entry
from app.store.database import Database
from app.store.models import Account, Alarm, BalancePolicy, Bus, Meter, RelayCommand
from app.vocabulary import AlarmState, CommandState, LedgerKind, RelayAction, SupplyState
from tests.support import wait_for


@pytest.fixture
def running(db: Database) -> Iterator[Runtime]:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=4))
    with db.transaction() as session:  # cuts must not wait for the end of a friendly night
        session.execute(update(BalancePolicy).values(friendly_hours=[], friendly_dates=[]))
    # A healthy account to play with: give it a known balance first.
    runtime = Runtime(db, RuntimeOptions(poll=PollPolicy(cycle_pause_s=0.2), policy_tick_s=3600))
    runtime.start()
    yield runtime
    runtime.stop()
    assert not runtime.engine.alive


def electricity_meter(db: Database, account_id: int) -> tuple[Meter, str]:
    with db.session() as session:
        meter, url = session.execute(
            select(Meter, Bus.url)
            .join(Bus, Meter.bus_id == Bus.id)
            .where(Meter.account_id == account_id, Meter.serial.startswith("E"))
        ).one()
        return meter, url


def test_arrears_cut_and_a_recharge_restores(running: Runtime, db: Database) -> None:
    with db.session() as session:
        account = session.scalars(select(Account).order_by(Account.id)).first()
        assert account is not None
    meter, url = electricity_meter(db, account.id)
    assert running.sim is not None
    simulated = running.sim.meter(url, meter.address)
    wait_for(lambda: running.engine.totals.readings >= 4, "the meters were polled")

    # Spend the account below zero: the student policy cuts at zero.
    with db.transaction() as session:
        post_entry(
            session,
            account.id,
            LedgerKind.CONSUMPTION,
            -(account.balance_minor + 1500),
            reason="test usage",
        )
    running.account_changed(account.id)
    wait_for(lambda: not simulated.supply_on, "the relay opened")

    def commands() -> list[RelayCommand]:
        with db.session() as session:
            return list(
                session.scalars(
                    select(RelayCommand)
                    .where(RelayCommand.meter_id == meter.id)
                    .order_by(RelayCommand.id)
                )
            )

    wait_for(lambda: commands()[-1].state is CommandState.VERIFIED, "the cut was verified")
    cut = commands()[-1]
    assert cut.action is RelayAction.CUT_SUPPLY
    assert cut.verified_closed is False
    with db.session() as session:
        stored = session.get_one(Meter, meter.id)
        assert stored.relay_closed is False
        assert stored.off_reason == "arrears"
        assert session.get_one(Account, account.id).supply_state is SupplyState.CUT_OFF
        kinds = {
            a.kind for a in session.scalars(select(Alarm).where(Alarm.account_id == account.id))
        }
    assert {"low_balance_1", "low_balance_2", "cut_off"} <= kinds

    # A recharge below the close permit (5.00) keeps it off; one above restores it.
    with db.transaction() as session:
        post_entry(session, account.id, LedgerKind.RECHARGE, 1600, reason="too little")
    running.account_changed(account.id)
    time.sleep(1.0)
    assert not simulated.supply_on
    with db.transaction() as session:
        post_entry(session, account.id, LedgerKind.RECHARGE, 5000, reason="recharge")
    running.account_changed(account.id)
    wait_for(lambda: simulated.supply_on, "the relay closed again")
    wait_for(
        lambda: (
            commands()[-1].action is RelayAction.OPEN_SUPPLY
            and commands()[-1].state is CommandState.VERIFIED
        ),
        "the restore was verified",
    )
    with db.session() as session:
        stored = session.get_one(Meter, meter.id)
        assert stored.relay_closed is True
        assert stored.off_reason is None
        assert session.get_one(Account, account.id).supply_state is not SupplyState.CUT_OFF
        cut_alarms = list(
            session.scalars(
                select(Alarm).where(Alarm.account_id == account.id, Alarm.kind == "cut_off")
            )
        )
    # One cut-off alarm for the one cut, cleared by the recharge that restored supply.
    assert len(cut_alarms) == 1
    assert cut_alarms[0].state is AlarmState.CLEARED
    assert cut_alarms[0].cleared_at is not None
    assert cut_alarms[0].evidence is not None
    assert cut_alarms[0].evidence["balance_minor"] < 0
