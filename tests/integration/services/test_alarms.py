"""The alarm centre's services: the list with its room, building, meter and account, the count
of active critical alarms, and acknowledging with a note (audited, refused when it cannot be);
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.queries.alarms import critical_active_count, get_alarm, list_alarms
from app.services.alarm_actions import NOTE_MAX, AlarmRefused, acknowledge_alarm
from app.services.permissions import PermissionDenied
from app.store.database import Database
from app.store.models import Alarm, AuditEvent, Meter, utc_now
from app.vocabulary import AlarmSeverity, AlarmState, Role
from tests.integration.services.counter_support import small_site, who


@pytest.fixture
def site(db: Database) -> Database:
    return small_site(db)


def raise_alarm(
    db: Database,
    kind: str,
    severity: AlarmSeverity,
    *,
    state: AlarmState = AlarmState.ACTIVE,
    with_meter: bool = True,
    minutes_ago: int = 0,
    evidence: dict[str, object] | None = None,
) -> int:
    with db.transaction() as session:
        meter = session.scalars(select(Meter).order_by(Meter.id)).first()
        assert meter is not None
        alarm = Alarm(
            kind=kind,
            severity=severity,
            state=state,
            meter_id=meter.id if with_meter else None,
            account_id=meter.account_id if with_meter else None,
            message=f"{kind} happened",
            evidence=evidence,
            raised_at=utc_now() - timedelta(minutes=minutes_ago),
            cleared_at=utc_now() if state == AlarmState.CLEARED else None,
        )
        session.add(alarm)
        session.flush()
        return alarm.id


def test_list_names_meter_room_building_and_account_newest_first(site: Database) -> None:
    older = raise_alarm(
        site,
        "load_guard_trip",
        AlarmSeverity.CRITICAL,
        minutes_ago=5,
        evidence={"power_w": 2400.0, "mode": "total"},
    )
    newer = raise_alarm(site, "meter_offline", AlarmSeverity.WARNING, with_meter=False)
    rows = list_alarms(site)
    assert [r.id for r in rows] == [newer, older]
    trip = rows[1]
    assert trip.kind == "load_guard_trip"
    assert trip.severity is AlarmSeverity.CRITICAL
    assert trip.state is AlarmState.ACTIVE
    assert trip.meter_serial
    assert trip.room_label.startswith("A-")
    assert trip.building == "A"
    assert trip.account_number
    assert trip.evidence == {"power_w": 2400.0, "mode": "total"}
    assert trip.occurrences == 1
    assert trip.acknowledged_at is None
    assert (trip.ack_note, trip.acknowledged_by) == ("", "")
    bare = rows[0]
    assert (bare.meter_serial, bare.room_label, bare.building, bare.account_number) == (
        "",
        "",
        "",
        "",
    )
    assert bare.evidence is None


def test_count_of_active_critical_alarms(site: Database) -> None:
    assert critical_active_count(site) == 0
    raise_alarm(site, "low_balance_2", AlarmSeverity.CRITICAL)
    raise_alarm(site, "cut_off", AlarmSeverity.CRITICAL)
    raise_alarm(site, "low_balance_1", AlarmSeverity.WARNING)
    raise_alarm(site, "meter_offline", AlarmSeverity.CRITICAL, state=AlarmState.CLEARED)
    raise_alarm(site, "command_failed", AlarmSeverity.CRITICAL, state=AlarmState.ACKNOWLEDGED)
    assert critical_active_count(site) == 2


def test_acknowledge_with_a_note_is_audited(site: Database) -> None:
    alarm_id = raise_alarm(site, "cut_off", AlarmSeverity.CRITICAL)
    cashier = who(site, Role.CASHIER)
    row = acknowledge_alarm(site, cashier, alarm_id, "  Called the tenant; will pay today. ")
    assert row.id == alarm_id
    assert row.state is AlarmState.ACKNOWLEDGED
    assert row.ack_note == "Called the tenant; will pay today."
    assert row.acknowledged_at is not None
    assert row.acknowledged_by == cashier.display_name
    assert get_alarm(site, alarm_id) == row
    assert critical_active_count(site) == 0
    with site.session() as session:
        stored = session.get_one(Alarm, alarm_id)
        assert stored.acknowledged_by_id == cashier.operator_id
        events = list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == "alarm.acknowledge"))
        )
    assert len(events) == 1
    event = events[0]
    assert (event.target_type, event.target_id) == ("alarm", str(alarm_id))
    assert event.operator_id == cashier.operator_id
    assert event.before == {"state": "active", "ack_note": ""}
    assert event.after == {
        "state": "acknowledged",
        "ack_note": "Called the tenant; will pay today.",
        "kind": "cut_off",
    }


@pytest.mark.parametrize(
    ("note", "says"),
    [("", "Write a note"), ("   ", "Write a note"), ("x" * (NOTE_MAX + 1), "at most 500")],
)
def test_a_blank_or_long_note_is_refused(site: Database, note: str, says: str) -> None:
    alarm_id = raise_alarm(site, "cut_off", AlarmSeverity.CRITICAL)
    with pytest.raises(AlarmRefused, match=says) as caught:
        acknowledge_alarm(site, who(site, Role.CASHIER), alarm_id, note)
    assert caught.value.field == "note"
    assert get_alarm(site, alarm_id).state is AlarmState.ACTIVE  # type: ignore[union-attr]


def test_a_note_of_the_longest_length_is_taken(site: Database) -> None:
    alarm_id = raise_alarm(site, "clock_drift", AlarmSeverity.INFO)
    row = acknowledge_alarm(site, who(site, Role.TECHNICIAN), alarm_id, "y" * NOTE_MAX)
    assert row.ack_note == "y" * NOTE_MAX


def test_cleared_acknowledged_and_unknown_alarms_are_refused(site: Database) -> None:
    cleared = raise_alarm(site, "meter_offline", AlarmSeverity.WARNING, state=AlarmState.CLEARED)
    done = raise_alarm(site, "cut_off", AlarmSeverity.CRITICAL)
    cashier = who(site, Role.CASHIER)
    acknowledge_alarm(site, cashier, done, "seen")
    with pytest.raises(AlarmRefused, match="cleared already") as caught:
        acknowledge_alarm(site, cashier, cleared, "seen")
    assert caught.value.field == "alarm"
    with pytest.raises(AlarmRefused, match="acknowledged already"):
        acknowledge_alarm(site, cashier, done, "seen again")
    with pytest.raises(AlarmRefused, match="no alarm 999999"):
        acknowledge_alarm(site, cashier, 999_999, "seen")
    assert get_alarm(site, done).ack_note == "seen"  # type: ignore[union-attr]
    with site.session() as session:
        count = len(
            list(
                session.scalars(select(AuditEvent).where(AuditEvent.action == "alarm.acknowledge"))
            )
        )
    assert count == 1


def test_an_operator_without_the_permission_is_refused(
    site: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.services import permissions

    alarm_id = raise_alarm(site, "cut_off", AlarmSeverity.CRITICAL)
    monkeypatch.setitem(
        permissions.PERMISSIONS,
        Role.CASHIER,
        permissions.PERMISSIONS[Role.CASHIER] - {permissions.Action.ACKNOWLEDGE_ALARM},
    )
    with pytest.raises(PermissionDenied):
        acknowledge_alarm(site, who(site, Role.CASHIER), alarm_id, "seen")
    assert get_alarm(site, alarm_id).state is AlarmState.ACTIVE  # type: ignore[union-attr]
