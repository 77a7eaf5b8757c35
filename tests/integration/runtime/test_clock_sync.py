"""An operator's clock sync of one meter through a real Runtime on simulated lines: on the console
that polls the meter's bus, and from an attached console (another PC), where the bus's owner
carries it out and the drift before and after reaches the console that asked. The clock-drift
alarm clears, the command row and the audit trail say who asked, refusals write nothing, and a
sync that no runtime can carry out fails with a message instead of waiting for ever."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.demo.site import DEMO_PASSWORD, DemoSpec
from app.runtime.command_queue import NOBODY_POLLS
from app.runtime.runtime import Runtime, RuntimeOptions
from app.runtime.supply_control import local_zone
from app.services.meter_actions import MeterActionRefused
from app.services.operators import login
from app.services.permissions import PermissionDenied
from app.store.database import Database
from app.store.models import Alarm, AuditEvent, Meter, RelayCommand
from app.vocabulary import AlarmKind, AlarmState, CommandState, RelayAction
from tests.integration.runtime.runtime_support import (
    funded_meter,
    polled_meter,
    polling,
    strict_demo_site,
)
from tests.support import wait_for

WAIT_S = 60  # a bound for a stuck test, never a measurement
LATE_S = 10 * 60  # the meter's clock runs ten minutes late


@pytest.fixture
def site(db: Database) -> Database:
    # Building A speaks DL/T 645 (clocks), building B Modbus (none).
    return strict_demo_site(db, DemoSpec(buildings=2, floors=1, rooms_per_floor=2))


def start(db: Database, options: RuntimeOptions) -> Runtime:
    runtime = Runtime(db, options)
    runtime.start()
    return runtime


@pytest.fixture
def owner(site: Database) -> Iterator[Runtime]:
    with polling(site) as runtime:
        yield runtime


@pytest.fixture
def console(site: Database, migrated_url: str, owner: Runtime) -> Iterator[Runtime]:
    """A console attached to the owner's database through a handle of its own (another PC)."""
    other = Database(migrated_url, key_dir=site.audit_keys.folder)
    runtime = start(other, RuntimeOptions(attached=True, policy_tick_s=3600))
    yield runtime
    runtime.stop()
    other.dispose()


def site_now(db: Database) -> datetime:
    """The site's wall time, as meters keep it (naive)."""
    with db.session() as session:
        zone = local_zone(session)
    return datetime.now(zone).replace(tzinfo=None)


def drift_alarms(db: Database, meter_id: int) -> list[Alarm]:
    with db.session() as session:
        return list(
            session.scalars(
                select(Alarm).where(Alarm.meter_id == meter_id, Alarm.kind == AlarmKind.CLOCK_DRIFT)
            )
        )


def command_count(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(RelayCommand)) or 0


def late_clock_with_alarm(owner: Runtime, db: Database) -> int:
    """A polled DL/T 645 meter whose clock runs ``LATE_S`` late, with its drift alarm raised by
    the owner's clock round; returns the meter's id."""
    meter, simulated = polled_meter(owner, db)
    simulated.set_clock(site_now(db) - timedelta(seconds=LATE_S))
    owner.clocks.run_round()
    wait_for(lambda: len(drift_alarms(db, meter.id)) == 1, "the clock-drift alarm")
    return meter.id


def test_a_sync_on_the_polling_console_sets_the_clock_and_clears_the_alarm(
    owner: Runtime, site: Database
) -> None:
    meter_id = late_clock_with_alarm(owner, site)
    tech = login(site, "technician", DEMO_PASSWORD)

    outcome = owner.sync_clock(meter_id, tech.operator_id, "clock drift alarm").result(WAIT_S)

    assert outcome.verified, outcome
    assert outcome.drift_before_s == pytest.approx(-LATE_S, abs=5)
    assert outcome.drift_after_s is not None
    assert abs(outcome.drift_after_s) <= 5
    [alarm] = drift_alarms(site, meter_id)
    assert alarm.state is AlarmState.CLEARED  # committed with the outcome
    with site.session() as session:
        command = session.get_one(RelayCommand, outcome.command_id)
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "meter.clock_sync")
        ).one()
    assert command.action is RelayAction.SYNC_CLOCK
    assert command.state is CommandState.VERIFIED
    assert command.requested_by_id == tech.operator_id
    assert "Clock sync by" in command.reason
    assert "clock drift alarm" in command.reason
    assert (command.drift_before_s, command.drift_after_s) == (
        outcome.drift_before_s,
        outcome.drift_after_s,
    )
    assert event.operator_id == tech.operator_id
    assert event.after == {"reason": "clock drift alarm", "command_id": command.id, "sent": True}


def test_a_sync_asked_on_an_attached_console_is_carried_out_by_the_owner(
    owner: Runtime, console: Runtime, site: Database
) -> None:
    meter_id = late_clock_with_alarm(owner, site)
    assert console.workers == []  # the console has no line of its own
    boss = login(console.db, "supervisor", DEMO_PASSWORD)

    outcome = console.sync_clock(meter_id, boss.operator_id, "after a power cut").result(WAIT_S)

    assert outcome.verified, outcome
    assert outcome.drift_before_s == pytest.approx(-LATE_S, abs=5)
    meter, url = funded_meter(site)
    assert owner.sim is not None
    clock = owner.sim.meter(url, meter.address).clock_now()
    assert abs((clock - site_now(site)).total_seconds()) <= 5  # the owner's line set it
    [alarm] = drift_alarms(site, meter_id)
    assert alarm.state is AlarmState.CLEARED


def test_refused_syncs_write_nothing(owner: Runtime, site: Database) -> None:
    meter, _url = funded_meter(site)
    with site.session() as session:
        modbus = session.scalars(select(Meter).where(Meter.profile == "acrel-ddsy1352")).first()
    assert modbus is not None
    tech = login(site, "technician", DEMO_PASSWORD)
    cashier = login(site, "cashier", DEMO_PASSWORD)
    before = command_count(site)

    with pytest.raises(PermissionDenied, match="may not sync meter clocks"):
        owner.sync_clock(meter.id, cashier.operator_id, "wrong time").result(WAIT_S)
    with pytest.raises(MeterActionRefused, match="keeps no clock"):
        owner.sync_clock(modbus.id, tech.operator_id, "wrong time").result(WAIT_S)
    with pytest.raises(MeterActionRefused, match="Give a reason"):
        owner.sync_clock(meter.id, tech.operator_id, "   ").result(WAIT_S)

    assert command_count(site) == before


def test_a_sync_no_runtime_carries_out_fails_with_a_message(site: Database) -> None:
    """The site's duties are held here but no runtime polls the meter's bus: the queued sync
    fails after the queue's limit, and the operator reads why."""
    runtime = start(site, RuntimeOptions(buses=frozenset(), policy_tick_s=3600, queue_limit_s=0.5))
    try:
        assert runtime.ownership.site_duties
        assert runtime.workers == []
        meter, _url = funded_meter(site)
        tech = login(site, "technician", DEMO_PASSWORD)

        outcome = runtime.sync_clock(meter.id, tech.operator_id, "wrong time").result(WAIT_S)
    finally:
        runtime.stop()

    assert outcome.state is CommandState.FAILED
    assert outcome.error == NOBODY_POLLS
    assert outcome.drift_before_s is None
    assert outcome.drift_after_s is None
