"""An operator's actions on one meter: keep power set and lifted on its account, the database
side of a manual switch and of a load-guard restore; who may, every refusal (nothing written),
what the audit trail says; and the Meter detail query that shows them. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from app.hardware.bus_worker import SupplyResult
from app.queries.meter_detail import meter_detail
from app.runtime.supply_control import Route, SupplyControl
from app.services.meter_actions import (
    KEEP_POWER_MAX,
    MeterActionRefused,
    clear_keep_power,
    manual_switch,
    record_load_guard_restore,
    set_keep_power,
)
from app.services.permissions import PermissionDenied
from app.store.database import Database
from app.store.models import (
    Account,
    Alarm,
    AuditEvent,
    IntervalReading,
    LoadTrip,
    Meter,
    Operator,
    RelayCommand,
    utc_now,
)
from app.vocabulary import (
    AlarmSeverity,
    AlarmState,
    CommandState,
    ReadingQuality,
    RelayAction,
    Role,
    SupplyState,
)
from tests.integration.services.counter_support import small_site, who


@pytest.fixture
def site(db: Database) -> Database:
    return small_site(db)


def electricity_meter(db: Database, index: int = 0) -> Meter:
    with db.session() as session:
        meters = session.scalars(
            select(Meter)
            .where(Meter.serial.startswith("E"), Meter.account_id.is_not(None))
            .order_by(Meter.id)
        ).all()
        return meters[index]


def events(db: Database, action: str) -> list[AuditEvent]:
    with db.session() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def audit_count(db: Database) -> int:
    """Audit events of people's actions (not the trail's own ``audit.start``/``audit.key``)."""
    with db.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.target_type != "audit")
            )
            or 0
        )


def account_of(db: Database, meter: Meter) -> Account:
    with db.session() as session:
        return session.get_one(Account, meter.account_id)


def sent_to_a_bus(session_commands: list[int]) -> SupplyControl:
    """The engine's SupplyControl with a bus that takes every command (no wire here)."""

    def dispatch(_meter_id: int, _on: bool, command_id: int) -> Route:
        session_commands.append(command_id)
        return Route.SENT

    return SupplyControl(dispatch)


# -- keep power ---------------------------------------------------------------------------------


def test_keep_power_is_set_and_lifted_with_the_audit_trail(site: Database) -> None:
    meter = electricity_meter(site)
    boss = who(site, Role.SUPERVISOR)
    until = datetime.now(UTC) + timedelta(days=2, minutes=1)
    done = set_keep_power(site, boss, meter.id, until, "  Oxygen   concentrator in the room ")
    account = account_of(site, meter)
    assert done.account_id == account.id
    assert done.until == until.replace(microsecond=0)
    assert account.keep_power_until == until.replace(microsecond=0)
    assert account.keep_power_reason == "Oxygen concentrator in the room"
    (event,) = events(site, "account.keep_power")
    assert event.operator_id == boss.operator_id
    assert (event.target_type, event.target_id) == ("account", account.number)
    assert event.before == {"keep_power_until": None, "keep_power_reason": ""}
    assert event.after is not None
    assert event.after["keep_power_reason"] == "Oxygen concentrator in the room"
    assert event.after["meter"] == meter.serial
    assert done.audit_number == event.id
    detail = meter_detail(site, meter.id)
    assert detail is not None
    assert detail.keep_power_active
    assert detail.keep_power_reason == "Oxygen concentrator in the room"

    lifted = clear_keep_power(site, boss, meter.id, "Moved to hospital")
    assert lifted.until is None
    account = account_of(site, meter)
    assert account.keep_power_until is None
    assert account.keep_power_reason == ""
    (cleared,) = events(site, "account.keep_power_clear")
    assert cleared.after == {
        "keep_power_until": None,
        "keep_power_reason": "",
        "meter": meter.serial,
        "reason": "Moved to hospital",
    }
    assert cleared.before is not None
    assert cleared.before["keep_power_reason"] == "Oxygen concentrator in the room"


@pytest.mark.parametrize("role", [Role.CASHIER, Role.OFFICE, Role.TECHNICIAN])
def test_only_supervisors_and_admins_order_keep_power(site: Database, role: Role) -> None:
    meter = electricity_meter(site)
    until = datetime.now(UTC) + timedelta(hours=5)
    with pytest.raises(PermissionDenied, match="may not order keep power"):
        set_keep_power(site, who(site, role), meter.id, until, "medical")
    with pytest.raises(PermissionDenied):
        clear_keep_power(site, who(site, role), meter.id, "medical")
    assert account_of(site, meter).keep_power_until is None
    assert events(site, "account.keep_power") == []
    # An administrator may.
    set_keep_power(site, who(site, Role.ADMIN), meter.id, until, "medical")
    assert account_of(site, meter).keep_power_until is not None


def test_keep_power_refusals_write_nothing(site: Database) -> None:
    meter = electricity_meter(site)
    boss = who(site, Role.SUPERVISOR)
    now = datetime.now(UTC)
    before = audit_count(site)
    cases = [
        (now + timedelta(hours=1), "   ", "reason", "Give a reason"),
        (now - timedelta(minutes=1), "medical", "until", "has passed"),
        (now + KEEP_POWER_MAX + timedelta(hours=1), "medical", "until", "at most 31 days"),
        (datetime(2030, 1, 1, 12, 0), "medical", "until", "time zone"),
        (now + timedelta(hours=1), "x" * 301, "reason", "at most 300"),
    ]
    for until, reason, field, message in cases:
        with pytest.raises(MeterActionRefused, match=message) as refused:
            set_keep_power(site, boss, meter.id, until, reason)
        assert refused.value.field == field
    with pytest.raises(MeterActionRefused, match="no keep-power order") as nothing:
        clear_keep_power(site, boss, meter.id, "not needed")
    assert nothing.value.field == "account"
    set_keep_power(site, boss, meter.id, now + timedelta(hours=1), "medical")
    with pytest.raises(MeterActionRefused, match="Give a reason") as blank:
        clear_keep_power(site, boss, meter.id, "")
    assert blank.value.field == "reason"
    assert account_of(site, meter).keep_power_until is not None
    assert audit_count(site) == before + 1  # only the order that was made


def test_keep_power_needs_an_account(site: Database) -> None:
    meter = electricity_meter(site)
    with site.transaction() as session:
        session.execute(update(Meter).where(Meter.id == meter.id).values(account_id=None))
    with pytest.raises(MeterActionRefused, match="belongs to no account") as refused:
        set_keep_power(
            site,
            who(site, Role.SUPERVISOR),
            meter.id,
            datetime.now(UTC) + timedelta(hours=2),
            "medical",
        )
    assert refused.value.field == "account"


# -- manual switch ------------------------------------------------------------------------------


def test_a_manual_cut_names_the_operator_and_stays_manual(site: Database) -> None:
    meter = electricity_meter(site)
    tech = who(site, Role.TECHNICIAN)
    dispatched: list[int] = []
    control = sent_to_a_bus(dispatched)
    with site.transaction() as session:
        record = manual_switch(
            session,
            tech.operator_id,
            meter.id,
            False,
            "  rewiring the socket ",
            lambda text: control.command(session, meter.id, False, text, utc_now()),
        )
    assert dispatched == [record.command_id]
    assert record.sent
    with site.session() as session:
        command = session.get_one(RelayCommand, record.command_id)
        assert command.requested_by_id == tech.operator_id
        assert command.action is RelayAction.CUT_SUPPLY
        assert command.reason == "Manual cut by Bus technician: rewiring the socket"
        assert session.get_one(Meter, meter.id).off_reason == "manual"
    (event,) = events(site, "relay.manual_switch")
    assert event.operator_id == tech.operator_id
    assert (event.target_type, event.target_id) == ("meter", meter.serial)
    assert event.after == {
        "wanted_on": False,
        "reason": "rewiring the socket",
        "command_id": record.command_id,
        "sent": True,
    }
    detail = meter_detail(site, meter.id)
    assert detail is not None
    assert detail.commands[0].requested_by == "Bus technician"
    assert detail.commands[0].state is CommandState.SENT


def test_a_command_no_bus_takes_is_recorded_as_failed_with_its_operator(site: Database) -> None:
    meter = electricity_meter(site)
    boss = who(site, Role.SUPERVISOR)
    control = SupplyControl(lambda _m, _on, _c: Route.NO_BUS)
    with site.transaction() as session:
        record = manual_switch(
            session,
            boss.operator_id,
            meter.id,
            True,
            "test",
            lambda text: control.command(session, meter.id, True, text, utc_now()),
        )
    assert not record.sent
    with site.session() as session:
        command = session.get_one(RelayCommand, record.command_id)
        assert command.state is CommandState.FAILED
        assert command.requested_by_id == boss.operator_id


def test_manual_switch_refusals(site: Database) -> None:
    meter = electricity_meter(site)
    dispatched: list[int] = []
    control = sent_to_a_bus(dispatched)

    def switch(role: Role, on: bool, reason: str = "test", **kw: bool) -> None:
        operator = who(site, role)
        with site.transaction() as session:
            manual_switch(
                session,
                operator.operator_id,
                meter.id,
                on,
                reason,
                lambda text: control.command(session, meter.id, on, text, utc_now()),
                **kw,
            )

    with pytest.raises(PermissionDenied, match="may not switch relays"):
        switch(Role.CASHIER, False)
    with pytest.raises(PermissionDenied):
        switch(Role.OFFICE, True)
    with pytest.raises(MeterActionRefused, match="Give a reason") as blank:
        switch(Role.SUPERVISOR, False, " ")
    assert blank.value.field == "reason"
    with pytest.raises(MeterActionRefused, match="Restore load guard") as held:
        switch(Role.SUPERVISOR, True, guard_holds=True)
    assert held.value.field == "on"

    # Cut off for arrears: switching on is refused until keep power is ordered.
    with site.transaction() as session:
        session.execute(
            update(Account)
            .where(Account.id == meter.account_id)
            .values(supply_state=SupplyState.CUT_OFF, balance_minor=-1500)
        )
    with pytest.raises(MeterActionRefused, match="cut off for arrears") as arrears:
        switch(Role.SUPERVISOR, True)
    assert arrears.value.field == "on"
    assert "balance -¥15.00" in str(arrears.value)
    switch(Role.SUPERVISOR, False)  # a cut is always allowed
    set_keep_power(
        site,
        who(site, Role.SUPERVISOR),
        meter.id,
        datetime.now(UTC) + timedelta(hours=3),
        "medical",
    )
    switch(Role.SUPERVISOR, True)
    assert len(dispatched) == 2
    assert len(events(site, "relay.manual_switch")) == 2

    # A switched-off operator row is refused, whatever his role was.
    admin = who(site, Role.ADMIN)
    with site.transaction() as session:
        session.execute(
            update(Operator).where(Operator.id == admin.operator_id).values(active=False)
        )
    with pytest.raises(PermissionDenied, match="switched off"), site.transaction() as session:
        manual_switch(session, admin.operator_id, meter.id, False, "test", lambda _t: 1)
    assert len(dispatched) == 2


# -- load-guard restore -------------------------------------------------------------------------


def locked_out(db: Database, meter: Meter) -> int:
    """The state a lock-out leaves: an open trip with its evidence, the meter held off by the
    load guard, a critical lock-out alarm."""
    with db.transaction() as session:
        trip = LoadTrip(
            meter_id=meter.id,
            tripped_at=utc_now() - timedelta(minutes=3),
            mode="increment",
            power_w=1850.0,
            delta_power_w=1790.0,
            power_factor=0.99,
            band=2,
            window_s=1.5,
            note="step of 1790 W in band 2",
            locked_out=True,
        )
        session.add(trip)
        stored = session.get_one(Meter, meter.id)
        stored.off_reason = "load_guard"
        stored.relay_closed = False
        session.add(
            Alarm(
                kind="load_guard_lockout",
                severity=AlarmSeverity.CRITICAL,
                meter_id=meter.id,
                account_id=meter.account_id,
                message="locked out",
                raised_at=utc_now(),
            )
        )
        session.flush()
        return trip.id


def test_a_restore_marks_the_trip_clears_the_lockout_and_switches_on(site: Database) -> None:
    meter = electricity_meter(site)
    trip_id = locked_out(site, meter)
    tech = who(site, Role.TECHNICIAN)
    dispatched: list[int] = []
    control = sent_to_a_bus(dispatched)
    detail = meter_detail(site, meter.id)
    assert detail is not None
    assert detail.open_trip is not None
    assert detail.open_trip.id == trip_id
    assert detail.open_trip.locked_out
    with site.transaction() as session:
        record = record_load_guard_restore(
            session,
            tech.operator_id,
            meter.id,
            "Heater taken away",
            lambda text: control.command(session, meter.id, True, text, utc_now()),
        )
    assert record.trip_id == trip_id
    assert record.command_id is not None
    assert dispatched == [record.command_id]
    assert record.stays_off == ""
    with site.session() as session:
        trip = session.get_one(LoadTrip, trip_id)
        assert trip.restored_at is not None
        assert trip.restored_by_id == tech.operator_id
        assert (
            trip.note == "step of 1790 W in band 2\nRestored by Bus technician: Heater taken away"
        )
        command = session.get_one(RelayCommand, record.command_id)
        assert command.action is RelayAction.OPEN_SUPPLY
        assert command.requested_by_id == tech.operator_id
        alarm = session.scalars(select(Alarm).where(Alarm.kind == "load_guard_lockout")).one()
        assert alarm.state is AlarmState.CLEARED
    (event,) = events(site, "load_guard.restore")
    assert event.operator_id == tech.operator_id
    assert event.target_id == meter.serial
    assert event.before == {
        "off_reason": "load_guard",
        "relay_closed": False,
        "trip_id": trip_id,
        "locked_out": True,
    }
    assert event.after is not None
    assert event.after["switched_on"] is True
    detail = meter_detail(site, meter.id)
    assert detail is not None
    assert detail.open_trip is None
    assert detail.trips[0].restored_by == "Bus technician"

    # The bus reports the read-back: the supply is on and nothing is left to restore.
    with site.transaction() as session:
        control.record_result(
            session, record.command_id, SupplyResult(meter.address, True, True, True, 1)
        )
    with site.session() as session:
        assert session.get_one(Meter, meter.id).off_reason is None
    with (
        pytest.raises(MeterActionRefused, match="nothing to restore") as nothing,
        site.transaction() as session,
    ):
        record_load_guard_restore(session, tech.operator_id, meter.id, "again", lambda _t: None)
    assert nothing.value.field == "meter"


def test_a_restore_leaves_an_account_in_arrears_to_the_policy(site: Database) -> None:
    meter = electricity_meter(site)
    locked_out(site, meter)
    with site.transaction() as session:
        session.execute(
            update(Account)
            .where(Account.id == meter.account_id)
            .values(supply_state=SupplyState.CUT_OFF)
        )
    boss = who(site, Role.SUPERVISOR)
    dispatched: list[int] = []
    control = sent_to_a_bus(dispatched)
    with site.transaction() as session:
        record = record_load_guard_restore(
            session,
            boss.operator_id,
            meter.id,
            "Checked the room",
            lambda text: control.command(session, meter.id, True, text, utc_now()),
        )
    assert record.command_id is None
    assert dispatched == []
    assert "cut off for arrears" in record.stays_off
    with site.session() as session:
        assert session.get_one(Meter, meter.id).off_reason == "arrears"


def test_restore_refusals(site: Database) -> None:
    meter = electricity_meter(site)
    trip_id = locked_out(site, meter)

    def restore(role: Role, note: str) -> None:
        operator = who(site, role)
        with site.transaction() as session:
            record_load_guard_restore(session, operator.operator_id, meter.id, note, lambda _t: 1)

    with pytest.raises(PermissionDenied, match="may not restore a locked-out load guard"):
        restore(Role.CASHIER, "fine")
    with pytest.raises(PermissionDenied):
        restore(Role.OFFICE, "fine")
    with pytest.raises(MeterActionRefused, match="Give a reason") as blank:
        restore(Role.TECHNICIAN, "  ")
    assert blank.value.field == "note"
    with site.session() as session:
        assert session.get_one(LoadTrip, trip_id).restored_at is None
    assert events(site, "load_guard.restore") == []


# -- the detail ---------------------------------------------------------------------------------


def test_detail_shows_identity_readings_and_alarms(site: Database) -> None:
    meter = electricity_meter(site)
    start = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    with site.transaction() as session:
        for n, (units, quality) in enumerate(
            [
                (1_000_000, ReadingQuality.GOOD),
                (1_000_250, ReadingQuality.GOOD),
                (900_000, ReadingQuality.HELD),
                (1_000_700, ReadingQuality.GOOD),
            ]
        ):
            session.add(
                IntervalReading(
                    meter_id=meter.id,
                    read_at=start + timedelta(minutes=15 * n),
                    register_units=units,
                    quality=quality,
                    rate_registers=[None, 400_000, 600_700, None] if n == 3 else None,
                )
            )
        session.add(
            Alarm(
                kind="cut_off",
                severity=AlarmSeverity.WARNING,
                account_id=meter.account_id,
                message="account cut off",
                raised_at=utc_now(),
            )
        )
    detail = meter_detail(site, meter.id, readings=3)
    assert detail is not None
    account = account_of(site, meter)
    assert (detail.serial, detail.account_number, detail.holder_name) == (
        meter.serial,
        account.number,
        account.holder_name,
    )
    assert detail.room_label.startswith("A-")
    assert detail.building
    assert detail.bus_name
    assert detail.supply_kind == "relay"
    assert detail.balance_minor == account.balance_minor
    assert detail.currency == "CNY"
    assert detail.policy_name
    assert [r.register_units for r in detail.readings] == [1_000_700, 900_000, 1_000_250]
    # Usage skips the held reading; the oldest shown is paired with the one before it.
    assert [r.used_units for r in detail.readings] == [450, None, 250]
    assert detail.readings[0].rates == (None, 400_000, 600_700, None)
    latest = detail.latest_reading
    assert latest is not None
    assert latest.register_units == 1_000_700
    assert [a.kind for a in detail.alarms] == ["cut_off"]
    assert meter_detail(site, 999_999) is None
