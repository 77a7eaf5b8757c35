"""Three PCs on one site: the runtime of PC A polls and cuts a room for arrears, a cashier on
PC B (its own database handle) takes a recharge, A restores the room within seconds, and the
change feed tells PC C (a third handle, the supervisor's console) of the new balance and the
cleared cut-off alarm without anyone pressing F5."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import delete, select

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.hardware.bus_worker import PollPolicy
from app.runtime.runtime import Runtime, RuntimeOptions
from app.services.ledger import post_entry
from app.services.operators import login
from app.services.recharge import recharge
from app.store.change_feed import ChangeListener
from app.store.changes import ChangeKind, Changes
from app.store.database import Database
from app.store.models import Account, Alarm, BalancePolicy, Bus, LoadGuardSetting, Meter
from app.vocabulary import AlarmState, LedgerKind, PaymentMethod, SupplyState, Utility
from tests.support import wait_for


class Heard:
    """What console C's listener delivered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.batches: list[Changes] = []

    def __call__(self, changes: Changes) -> None:
        with self._lock:
            self.batches.append(changes)

    def told(self, kind: ChangeKind, ident: int) -> bool:
        with self._lock:
            for batch in self.batches:
                ids = batch.ids_of(kind)
                if batch.everything or (ids is None and batch.touches(kind)):
                    return True
                if ids is not None and ident in ids:
                    return True
        return False

    def clear(self) -> None:
        with self._lock:
            self.batches.clear()


def test_a_recharge_on_b_restores_a_room_cut_by_a_and_c_sees_it(
    db: Database, migrated_url: str
) -> None:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2))
    with db.transaction() as session:
        session.execute(delete(LoadGuardSetting))
        meter, url = session.execute(
            select(Meter, Bus.url)
            .join(Bus, Bus.id == Meter.bus_id)
            .where(Meter.utility == Utility.ELECTRICITY)
            .order_by(Meter.id)
        ).first()  # type: ignore[misc]
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
    keys = db.audit_keys.folder
    pc_a = Runtime(
        db, RuntimeOptions(poll=PollPolicy(cycle_pause_s=0.1), interval_s=1, policy_tick_s=3600)
    )
    pc_b = Database(migrated_url, key_dir=keys)
    pc_c = Database(migrated_url, key_dir=keys)
    heard = Heard()
    console_c = ChangeListener(pc_c, heard)
    pc_a.start()
    console_c.start()
    try:
        assert console_c.wait_listening(10)
        assert pc_a.sim is not None
        simulated = pc_a.sim.meter(url, address)
        wait_for(lambda: simulated.supply_on, "the meter is on")
        with pc_b.transaction() as session:  # the office on B books what the tenant owes
            balance = session.get_one(Account, account_id).balance_minor
            post_entry(
                session, account_id, LedgerKind.ADJUSTMENT, -balance - 100, reason="test: owes 1"
            )

        def on_c() -> tuple[SupplyState, int, dict[int, AlarmState]]:
            """What console C reads: supply, balance and the cut-off alarms by id."""
            with pc_c.session() as session:
                account = session.get_one(Account, account_id)
                alarms = {
                    row.id: row.state
                    for row in session.execute(
                        select(Alarm.id, Alarm.state).where(
                            Alarm.account_id == account_id, Alarm.kind == "cut_off"
                        )
                    )
                }
                return account.supply_state, account.balance_minor, alarms

        wait_for(lambda: not simulated.supply_on, "A cut the room", 30)
        wait_for(lambda: on_c()[0] is SupplyState.CUT_OFF, "C reads it cut off", 30)
        cut_alarms = on_c()[2]
        assert list(cut_alarms.values()) == [AlarmState.ACTIVE]
        heard.clear()

        cashier = login(pc_b, "cashier", DEMO_PASSWORD)
        done = recharge(pc_b, cashier, number, "30", PaymentMethod.CASH, uuid.uuid4().hex)
        wait_for(lambda: simulated.supply_on, "A restored the room after B's recharge", 30)
        wait_for(lambda: heard.told(ChangeKind.BALANCE, account_id), "C heard the balance", 30)
        assert on_c()[1] == done.balance_after_minor  # what C reads when told
        (alarm_id,) = cut_alarms
        wait_for(lambda: heard.told(ChangeKind.ALARM, alarm_id), "C heard the alarm clear", 30)
        wait_for(lambda: heard.told(ChangeKind.ACCOUNT, account_id), "C heard the restore", 30)
        state, _balance, alarms = on_c()
        assert state is SupplyState.NORMAL
        assert alarms == {alarm_id: AlarmState.CLEARED}
    finally:
        console_c.stop()
        pc_a.stop()
        pc_b.dispose()
        pc_c.dispose()
