"""The meter itself as a notice channel, end to end on simulated lines: an account that falls
below its second low-balance threshold has its DL/T 645 meter sound its alarm (a 1C command
with N1 2A, acknowledged by the simulated meter); the cut re-asserts it; a recharge releases
it. A Modbus or water meter (no [alarm] in its profile) gets no command; a meter that does not
answer leaves a failed command and nothing else (no critical alarm, billing goes on); a meter
on a bus another runtime polls gets its command through the database queue."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from app.demo.site import DemoSpec
from app.hardware.profiles import load_profile
from app.hardware.simulator.sim_meter import SimMeter
from app.runtime.command_queue import NOBODY_POLLS
from app.runtime.runtime import Runtime, RuntimeOptions
from app.services.ledger import post_entry
from app.store.database import Database
from app.store.models import Account, Alarm, BalancePolicy, Bus, Meter, RelayCommand
from app.vocabulary import (
    AlarmKind,
    AlarmSeverity,
    CommandState,
    LedgerKind,
    RelayAction,
    SupplyState,
)
from tests.integration.runtime.runtime_support import polling, strict_demo_site
from tests.support import wait_for

ALARMS = (RelayAction.ALARM_ON, RelayAction.ALARM_OFF)


@pytest.fixture
def site(db: Database) -> Database:
    # Building A speaks DL/T 645 (its even rooms have a CJ/T 188 water meter too), B Modbus.
    strict_demo_site(db, DemoSpec(buildings=2, floors=1, rooms_per_floor=2))
    # Every account starts well above its warnings, so each test sees its own warning raised.
    with db.session() as session:
        accounts = list(session.scalars(select(Account.id)))
    for account_id in accounts:
        set_balance(db, account_id, thresholds(db, account_id)[0] + 5000)
    with db.transaction() as session:
        session.execute(update(Account).values(supply_state=SupplyState.NORMAL))
    return db


@pytest.fixture
def owner(site: Database) -> Iterator[Runtime]:
    with polling(site) as runtime:
        yield runtime


def account_with(db: Database, profile: str, *, water: bool = False) -> tuple[int, Meter, str]:
    """An account with no warning yet whose electricity meter has ``profile`` (and a water
    meter, with ``water``): the account's id, that meter and its bus's URL."""
    with db.session() as session:
        rows = session.execute(
            select(Meter, Bus.url)
            .join(Bus, Meter.bus_id == Bus.id)
            .join(Account, Meter.account_id == Account.id)
            .where(Meter.profile == profile, Account.supply_state == SupplyState.NORMAL)
            .order_by(Meter.id)
        ).all()
        for meter, url in rows:
            profiles = set(
                session.scalars(select(Meter.profile).where(Meter.account_id == meter.account_id))
            )
            if not water or "cjt188-water" in profiles:
                assert meter.account_id is not None
                return meter.account_id, meter, url
    raise AssertionError(f"the demo site has no account with a {profile} meter")


def set_balance(db: Database, account_id: int, balance_minor: int) -> None:
    with db.transaction() as session:
        now = session.get_one(Account, account_id).balance_minor
        kind = LedgerKind.RECHARGE if balance_minor >= now else LedgerKind.CONSUMPTION
        post_entry(session, account_id, kind, balance_minor - now, reason="test balance")


def thresholds(db: Database, account_id: int) -> tuple[int, int]:
    """The account's alarm 1 and alarm 2 thresholds (minor units)."""
    with db.session() as session:
        policy = session.execute(
            select(BalancePolicy)
            .join(Account, Account.policy_id == BalancePolicy.id)
            .where(Account.id == account_id)
        ).scalar_one()
        return policy.alarm_1_minor, policy.alarm_2_minor


def commands(db: Database, account_id: int) -> list[RelayCommand]:
    with db.session() as session:
        return list(
            session.scalars(
                select(RelayCommand)
                .join(Meter, Meter.id == RelayCommand.meter_id)
                .where(Meter.account_id == account_id)
                .order_by(RelayCommand.id)
            )
        )


def alarm_commands(db: Database, account_id: int) -> list[RelayCommand]:
    return [c for c in commands(db, account_id) if c.action in ALARMS]


def settled(db: Database, account_id: int, count: int) -> bool:
    done = [c for c in alarm_commands(db, account_id) if c.state is not CommandState.SENT]
    return len(done) >= count and all(c.state is not CommandState.PENDING for c in done)


def alarms_of(db: Database, account_id: int) -> list[Alarm]:
    with db.session() as session:
        meters = select(Meter.id).where(Meter.account_id == account_id)
        return list(
            session.scalars(
                select(Alarm).where((Alarm.account_id == account_id) | Alarm.meter_id.in_(meters))
            )
        )


def simulated(runtime: Runtime, url: str, meter: Meter) -> SimMeter:
    assert runtime.sim is not None
    return runtime.sim.meter(url, meter.address)


def test_alarm_2_sounds_the_meter_the_cut_keeps_it_a_recharge_releases_it(
    owner: Runtime, site: Database
) -> None:
    account_id, meter, url = account_with(site, "dlt645-2007", water=True)
    sim = simulated(owner, url, meter)
    alarm_1, alarm_2 = thresholds(site, account_id)
    wait_for(lambda: owner.engine.totals.readings >= 4, "the meters were polled")
    assert not sim.alarm_on

    # Below alarm 2, still above zero: the meter shows its alarm, the supply stays on.
    set_balance(site, account_id, alarm_2 - 100)
    owner.account_changed(account_id)
    wait_for(lambda: settled(site, account_id, 1), "the alarm command was answered")
    [on] = alarm_commands(site, account_id)
    assert (on.action, on.state, on.meter_id, on.error) == (
        RelayAction.ALARM_ON,
        CommandState.VERIFIED,
        meter.id,
        "",
    )
    assert on.attempts == 1
    assert sim.alarm_on
    assert sim.supply_on
    kinds = {a.kind for a in alarms_of(site, account_id)}
    assert AlarmKind.LOW_BALANCE_2 in kinds

    # Cut off: the alarm is asserted again (ahead of the cut), the relay opens.
    set_balance(site, account_id, -100)
    owner.account_changed(account_id)
    wait_for(lambda: not sim.supply_on, "the relay opened")
    wait_for(lambda: settled(site, account_id, 2), "the second alarm command was answered")
    # A recharge that clears the warnings releases the alarm and restores supply.
    set_balance(site, account_id, alarm_1 + 1000)
    owner.account_changed(account_id)
    wait_for(lambda: sim.supply_on, "the relay closed again")
    wait_for(lambda: settled(site, account_id, 3), "the release was answered")
    assert not sim.alarm_on

    def of_meter() -> list[RelayCommand]:
        return [c for c in commands(site, account_id) if c.meter_id == meter.id]

    wait_for(
        lambda: all(c.state is not CommandState.SENT for c in of_meter()),
        "every command of the meter was answered",
    )
    done = of_meter()
    assert all(c.state is CommandState.VERIFIED for c in done)
    actions = [c.action for c in done]
    # Each alarm command goes out just ahead of the supply command of the same evaluation (a
    # recharge may be evaluated twice before the relay reads back closed: two restores).
    assert actions[:4] == [
        RelayAction.ALARM_ON,
        RelayAction.ALARM_ON,
        RelayAction.CUT_SUPPLY,
        RelayAction.ALARM_OFF,
    ]
    assert set(actions[4:]) == {RelayAction.OPEN_SUPPLY}
    # Only the DL/T 645 meter was asked: the account's water meter (CJ/T 188) shows no alarm.
    assert {c.meter_id for c in alarm_commands(site, account_id)} == {meter.id}
    with site.session() as session:
        water = session.scalars(
            select(Meter).where(Meter.account_id == account_id, Meter.id != meter.id)
        ).one()
    assert not load_profile(water.profile).shows_alarm


def test_a_modbus_meter_without_an_alarm_table_gets_no_command(
    owner: Runtime, site: Database
) -> None:
    account_id, meter, _url = account_with(site, "acrel-ddsy1352")
    assert not load_profile(meter.profile).shows_alarm
    _alarm_1, alarm_2 = thresholds(site, account_id)
    before = len(commands(site, account_id))

    set_balance(site, account_id, alarm_2 - 100)
    owner.account_changed(account_id)
    wait_for(
        lambda: AlarmKind.LOW_BALANCE_2 in {a.kind for a in alarms_of(site, account_id)},
        "the low-balance warning was raised",
    )
    # The warning and any commands are written in one transaction: none came with it.
    assert alarm_commands(site, account_id) == []
    assert len(commands(site, account_id)) == before
    with site.session() as session:
        assert session.get_one(Account, account_id).supply_state is SupplyState.ALARM_2


def test_a_meter_that_does_not_answer_fails_its_command_and_billing_goes_on(
    owner: Runtime, site: Database
) -> None:
    account_id, meter, url = account_with(site, "dlt645-2007")
    _alarm_1, alarm_2 = thresholds(site, account_id)
    wait_for(lambda: owner.engine.totals.readings >= 4, "the meters were polled")
    simulated(owner, url, meter).faults.dead = True

    set_balance(site, account_id, alarm_2 - 100)
    owner.account_changed(account_id)
    wait_for(lambda: settled(site, account_id, 1), "the alarm command gave up")
    [failed] = alarm_commands(site, account_id)
    assert failed.state is CommandState.FAILED
    assert failed.error.startswith("no reply within")
    assert failed.attempts == owner.options.poll.retries + 1
    assert failed.completed_at is not None
    assert owner.meter_alarms.failed == 1
    # Logged and counted, but no critical alarm: the meter's alarm is a courtesy to the tenant.
    raised = alarms_of(site, account_id)
    assert AlarmKind.COMMAND_FAILED not in {a.kind for a in raised}
    assert AlarmSeverity.CRITICAL not in {a.severity for a in raised}
    # Billing goes on: the other meters are read and rated usage is posted.
    readings = owner.engine.totals.readings
    wait_for(lambda: owner.engine.totals.readings > readings, "more readings were stored")
    assert owner.post_and_wait(timeout_s=30)
    assert owner.engine.alive


def test_an_alarm_nobody_carries_out_expires_without_a_critical_alarm(site: Database) -> None:
    """The site's duties are held here but no runtime polls the meter's bus: the queued alarm
    command fails after the queue's limit with the reason."""
    runtime = Runtime(
        site, RuntimeOptions(buses=frozenset(), policy_tick_s=3600, queue_limit_s=0.5)
    )
    runtime.start()
    try:
        assert runtime.ownership.site_duties
        assert runtime.workers == []
        account_id, _meter, _url = account_with(site, "dlt645-2007")
        _alarm_1, alarm_2 = thresholds(site, account_id)
        set_balance(site, account_id, alarm_2 - 100)
        runtime.account_changed(account_id)
        wait_for(lambda: settled(site, account_id, 1), "the queued alarm command expired")
    finally:
        runtime.stop()
    [expired] = alarm_commands(site, account_id)
    assert (expired.state, expired.error) == (CommandState.FAILED, NOBODY_POLLS)
    assert runtime.meter_alarms.failed == 1
    assert AlarmKind.COMMAND_FAILED not in {a.kind for a in alarms_of(site, account_id)}


def test_the_runtime_polling_the_bus_carries_out_a_queued_alarm(
    site: Database, migrated_url: str
) -> None:
    """Campus: the site's owner polls no bus; 'serve --buses' on another PC polls building A's
    electricity bus and takes the alarm command from the database queue."""
    account_id, meter, url = account_with(site, "dlt645-2007")
    with site.session() as session:
        bus_name = session.scalars(select(Bus.name).where(Bus.url == url)).one()
    duties = Runtime(site, RuntimeOptions(buses=frozenset(), policy_tick_s=3600))
    duties.start()
    other = Database(migrated_url, key_dir=site.audit_keys.folder)
    poller = Runtime(
        other, RuntimeOptions(buses=frozenset({bus_name}), policy_tick_s=3600, role="serve")
    )
    poller.start()
    try:
        assert duties.ownership.site_duties
        assert not poller.ownership.site_duties
        sim = simulated(poller, url, meter)
        wait_for(lambda: poller.engine.totals.readings >= 1, "the other PC polls the bus")
        _alarm_1, alarm_2 = thresholds(site, account_id)
        set_balance(site, account_id, alarm_2 - 100)
        duties.account_changed(account_id)
        wait_for(lambda: settled(site, account_id, 1), "the other PC carried it out")
        assert sim.alarm_on
    finally:
        poller.stop()
        duties.stop()
        other.dispose()
    [carried] = alarm_commands(site, account_id)
    assert (carried.action, carried.state) == (RelayAction.ALARM_ON, CommandState.VERIFIED)
