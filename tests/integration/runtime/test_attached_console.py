"""An attached console (a Runtime that polls nothing) beside the runtime that owns the buses:
its operator's switch and load-guard restore are queued in the database, carried out and read
back by the owner, and the outcome reaches the console that asked; the owner's guard re-arms.
The owner alone decides supply; the attached one holds nothing. A technician's diagnostics on
another PC pauses one bus's polling and the owner resumes it afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app.billing.load_guard import GuardState
from app.demo.site import DEMO_PASSWORD
from app.hardware.bus_worker import PollPolicy
from app.queries.field_owners import field_owners
from app.runtime.runtime import Runtime, RuntimeOptions
from app.services import line_check
from app.services.bus_pause import ask_pause, end_pause, pause_state
from app.services.ledger import post_entry
from app.services.line_check import check_bus_line
from app.services.meter_actions import set_keep_power
from app.services.operators import login
from app.store.database import Database
from app.store.models import Account, Bus, LoadTrip
from app.vocabulary import CommandState, LedgerKind
from tests.integration.runtime.runtime_support import polled_meter, strict_demo_site
from tests.support import wait_for

WAIT_S = 60  # a bound for a stuck test, never a measurement


@pytest.fixture
def site(db: Database) -> Database:
    return strict_demo_site(db)


@pytest.fixture
def pair(site: Database, migrated_url: str) -> Iterator[tuple[Runtime, Runtime]]:
    """The owner, and a console attached to the same database through its own handle (as a
    second PC would have)."""
    owner = Runtime(site, RuntimeOptions(poll=PollPolicy(cycle_pause_s=0.0), policy_tick_s=3600))
    owner.start()
    other = Database(migrated_url, key_dir=site.audit_keys.folder)
    try:  # a console that cannot start must not leave the owner polling a dropped database
        console = Runtime(other, RuntimeOptions(attached=True, policy_tick_s=3600))
        console.start()
        try:
            yield owner, console
        finally:
            console.stop()
    finally:
        owner.stop()
        other.dispose()


def test_the_attached_console_polls_nothing_and_the_owner_is_named(
    pair: tuple[Runtime, Runtime], site: Database
) -> None:
    owner, console = pair
    assert console.workers == []
    assert console.ownership.held == frozenset()
    assert owner.ownership.site_duties
    rows = field_owners(site)
    assert {row.runtime_id for row in rows} == {owner.ownership.runtime_id}
    assert len(rows) == 1 + len(owner.workers)  # the site's duties and each bus
    assert rows[0].is_site


def test_a_switch_on_the_attached_console_is_carried_out_by_the_owner(
    pair: tuple[Runtime, Runtime], site: Database
) -> None:
    owner, console = pair
    meter, simulated = polled_meter(owner, site)
    boss = login(site, "supervisor", DEMO_PASSWORD)

    cut = console.switch_relay(meter.id, False, boss.operator_id, "tenant moved out")
    outcome = cut.result(timeout=WAIT_S)
    assert outcome.state is CommandState.VERIFIED, outcome
    assert outcome.supply_on is False
    assert not simulated.supply_on  # the owner's line switched it

    back = console.switch_relay(meter.id, True, boss.operator_id, "tenant is back")
    assert back.result(timeout=WAIT_S).verified
    assert simulated.supply_on


def test_a_restore_on_the_attached_console_re_arms_the_owners_guard(
    pair: tuple[Runtime, Runtime], site: Database
) -> None:
    owner, console = pair
    meter, simulated = polled_meter(owner, site)
    simulated.switch_on_heater(power_w=1800, power_factor=0.99, duration_s=3600)

    def trip() -> LoadTrip | None:
        with site.session() as session:
            return session.scalars(select(LoadTrip).where(LoadTrip.meter_id == meter.id)).first()

    wait_for(lambda: (t := trip()) is not None and t.locked_out, "the lock-out")
    wait_for(lambda: not simulated.supply_on, "the trip cut the supply")
    simulated.switch_on_heater(power_w=0.0, power_factor=1.0, duration_s=0)  # unplugged
    tech = login(site, "technician", DEMO_PASSWORD)

    outcome = console.restore_load_guard(meter.id, tech.operator_id, "Heater taken away").result(
        timeout=WAIT_S
    )
    assert outcome.switch is not None
    assert outcome.switch.verified, outcome
    assert simulated.supply_on
    guard = owner.load.guards[meter.id]
    assert guard is not None
    wait_for(lambda: guard.state is GuardState.ARMED, "the owner's guard re-armed")
    seen = owner.engine.totals.snapshots
    wait_for(lambda: owner.engine.totals.snapshots >= seen + 10, "more polls")
    assert simulated.supply_on  # it watches again and does not trip on the old fault


def test_a_technician_on_another_pc_pauses_a_bus_and_the_owner_resumes_it(
    pair: tuple[Runtime, Runtime], site: Database
) -> None:
    owner, _console = pair
    with site.session() as session:
        bus_id, name = session.execute(select(Bus.id, Bus.name).order_by(Bus.id)).first()  # type: ignore[misc]
    assert name in {w.name for w in owner.workers}
    asked = ask_pause(site, bus_id, "diagnostics on laptop (Bus technician)", datetime.now(UTC))
    assert asked is not None
    assert asked.role == "console"

    def paused() -> bool:
        state = pause_state(site, bus_id, datetime.now(UTC))
        return state is not None and state.paused

    wait_for(paused, "the owner let go of the port")
    assert name not in {w.name for w in owner.workers}  # its worker stopped: the port is free
    assert owner.ownership.owns_bus(bus_id)  # the bus stays the owner's: nobody takes it over
    others = {w.name for w in owner.workers}
    assert others  # the other buses poll on

    end_pause(site, bus_id, "diagnostics on laptop (Bus technician)")
    wait_for(lambda: name in {w.name for w in owner.workers}, "polling resumed")
    wait_for(lambda: not paused(), "the owner says it polls again")


def test_a_line_test_on_another_pc_borrows_the_bus_from_its_owner(
    pair: tuple[Runtime, Runtime], site: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Setup page's line test (and a scan) on an attached console opens the port itself:
    the owner lets go of it first and polls again once the test is done."""
    owner, console = pair
    with site.session() as session:
        bus_id, name = session.execute(select(Bus.id, Bus.name).order_by(Bus.id)).first()  # type: ignore[misc]
    wait_for(lambda: name in {w.name for w in owner.workers}, "the owner polls the bus")
    paused_for_it: list[bool] = []
    real = line_check.check_line

    def checked_while_paused(worker, meters):  # type: ignore[no-untyped-def]
        state = pause_state(site, bus_id, datetime.now(UTC))
        paused_for_it.append(state is not None and state.paused)
        paused_for_it.append(name not in {w.name for w in owner.workers})
        return real(worker, meters)

    monkeypatch.setattr(line_check, "check_line", checked_while_paused)
    setup, check = check_bus_line(console.db, name)  # the console polls nothing itself

    assert setup.name == name
    assert paused_for_it == [True, True]  # the owner had let go of the port
    assert check.asked == len(check.answered) > 0
    wait_for(lambda: name in {w.name for w in owner.workers}, "the owner polls again")
    wait_for(
        lambda: (
            (state := pause_state(site, bus_id, datetime.now(UTC))) is not None and not state.paused
        ),
        "the owner says it polls again",
    )


def test_nobody_to_ask_when_no_runtime_polls_the_bus(site: Database) -> None:
    with site.session() as session:
        bus_id = session.scalars(select(Bus.id)).first()
    assert bus_id is not None
    assert ask_pause(site, bus_id, "diagnostics", datetime.now(UTC)) is None


def test_a_failed_round_of_the_owners_money_watch_does_not_end_it(
    pair: tuple[Runtime, Runtime], site: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database busy for a moment (SQLite's write lock, a server restart) fails one round;
    the next rounds still carry out the commands other consoles leave."""
    owner, console = pair
    rounds = {"n": 0}
    real = owner._queue_round

    def busy_once() -> None:
        rounds["n"] += 1
        if rounds["n"] == 1:
            raise OperationalError("SELECT 1", {}, Exception("database is locked"))
        real()

    monkeypatch.setattr(owner, "_queue_round", busy_once)
    wait_for(lambda: rounds["n"] >= 2, "a round after the failed one")
    meter, simulated = polled_meter(owner, site, wait=False)
    boss = login(site, "supervisor", DEMO_PASSWORD)
    outcome = console.switch_relay(meter.id, False, boss.operator_id, "after a busy moment")
    assert outcome.result(timeout=WAIT_S).verified
    assert not simulated.supply_on


def test_keep_power_ordered_on_the_attached_console_restores_a_cut_room_at_once(
    pair: tuple[Runtime, Runtime], site: Database
) -> None:
    """The owner's periodic evaluation is an hour away here: the order itself (an audit event
    on the account) makes the owner act within a round of its money watch."""
    owner, console = pair
    meter, simulated = polled_meter(owner, site)
    with site.transaction() as session:  # the tenant owes money: the owner cuts the room
        balance = session.get_one(Account, meter.account_id).balance_minor
        post_entry(session, meter.account_id, LedgerKind.ADJUSTMENT, -balance - 100, reason="t")
    wait_for(lambda: not simulated.supply_on, "the owner cut the room for arrears")
    boss = login(console.db, "supervisor", DEMO_PASSWORD)
    set_keep_power(
        console.db, boss, meter.id, datetime.now(UTC) + timedelta(days=1), "a medical device"
    )
    wait_for(lambda: simulated.supply_on, "the owner switched it back on for keep power")
