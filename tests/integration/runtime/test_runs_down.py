"""End to end on sim://: a room's own usage runs its account down; it is warned twice, cut at
its limit by the relay (read back), and a recharge restores it."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, select

from app.demo.site import DemoSpec, seed_demo_site
from app.hardware.bus_worker import PollPolicy
from app.runtime.runtime import Runtime, RuntimeOptions
from app.services.ledger import post_entry
from app.services.ledger_verify import verify_ledger
from app.store.database import Database
from app.store.models import (
    Account,
    AccountTariff,
    Alarm,
    BalancePolicy,
    Bus,
    LedgerEntry,
    LoadGuardSetting,
    Meter,
    TariffPlan,
    TariffVersion,
)
from app.vocabulary import LedgerKind, SupplyState, Utility
from tests.support import wait_for

EXPENSIVE = """\
name = "Test: ten yuan a kWh"
utility = "electricity"
unit = "kWh"
currency = "CNY"
effective_from = 2026-01-01
price = "10.00"
"""
SCALE = 100.0  # simulated seconds per second: a 2 kW heater counts 0.055 kWh a second


def test_an_account_runs_down_is_warned_twice_cut_and_restored(db: Database) -> None:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2))
    with db.transaction() as session:
        session.execute(delete(LoadGuardSetting))  # the heater is the test's load, not a fault
        meter, url = session.execute(
            select(Meter, Bus.url)
            .join(Bus, Bus.id == Meter.bus_id)
            .where(Meter.utility == Utility.ELECTRICITY)
            .order_by(Meter.id)
        ).first()  # type: ignore[misc]
        meter.rated_current_a = 10_000  # a scaled-up heater must not look implausible
        policy = BalancePolicy(
            name="Test: no friendly hours",
            alarm_1_minor=600,
            alarm_2_minor=400,
            overdraft_limit_minor=0,
            close_permit_minor=0,
            friendly_hours=[],
            friendly_dates=[],
        )
        plan = TariffPlan(
            name="Test: ten yuan", utility=Utility.ELECTRICITY, unit="kWh", currency="CNY"
        )
        plan.versions.append(TariffVersion(effective_from=date(2026, 1, 1), source_toml=EXPENSIVE))
        session.add_all([policy, plan])
        session.flush()
        account = session.get_one(Account, meter.account_id)
        account.policy_id = policy.id
        session.execute(
            delete(AccountTariff).where(
                AccountTariff.account_id == account.id,
                AccountTariff.utility == Utility.ELECTRICITY,
            )
        )
        session.add(
            AccountTariff(account_id=account.id, utility=Utility.ELECTRICITY, plan_id=plan.id)
        )
        post_entry(
            session,
            account.id,
            LedgerKind.ADJUSTMENT,
            800 - account.balance_minor,
            reason="test: 8.00 to spend",
        )
        account_id, meter_id = account.id, meter.id
    runtime = Runtime(
        db,
        RuntimeOptions(
            time_scale=SCALE,
            poll=PollPolicy(cycle_pause_s=0.1),
            interval_s=1,
            policy_tick_s=3600,
        ),
    )
    runtime.start()
    try:
        assert runtime.sim is not None
        simulated = runtime.sim.meter(url, meter.address)
        simulated.switch_on_heater(2000.0, duration_s=10 * 3600)

        def state() -> SupplyState:
            with db.session() as session:
                return session.get_one(Account, account_id).supply_state

        seen: list[SupplyState] = []

        def cut() -> bool:
            now = state()
            if not seen or seen[-1] is not now:
                seen.append(now)
            return now is SupplyState.CUT_OFF

        wait_for(cut, "the account was cut off")
        wait_for(lambda: not simulated.supply_on, "the relay opened")
        with db.session() as session:
            kinds = [
                a.kind
                for a in session.scalars(
                    select(Alarm).where(Alarm.account_id == account_id).order_by(Alarm.id)
                )
            ]
            balance = session.get_one(Account, account_id).balance_minor
            usage = session.scalars(
                select(LedgerEntry.amount_minor).where(
                    LedgerEntry.account_id == account_id,
                    LedgerEntry.kind == LedgerKind.CONSUMPTION,
                )
            ).all()
        assert kinds[:2] == ["low_balance_1", "low_balance_2"]  # warned twice, in order
        assert SupplyState.ALARM_1 in seen or SupplyState.ALARM_2 in seen
        assert balance <= 0
        assert len(usage) >= 3  # posted as it crossed each threshold, not once at the end

        with db.transaction() as session:
            post_entry(session, account_id, LedgerKind.RECHARGE, 3000, reason="test recharge")
        runtime.account_changed(account_id)
        wait_for(lambda: simulated.supply_on, "the relay closed again")
        wait_for(lambda: state() is not SupplyState.CUT_OFF, "the account left the cut-off")
    finally:
        runtime.stop()
    with db.session() as session:
        stored = session.get_one(Meter, meter_id)
        assert stored.off_reason is None
    assert verify_ledger(db).ok
