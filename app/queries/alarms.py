"""Read-only views of alarms for the alarm centre, the status bar and the CLI: plain
dataclasses, no ORM objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from app.store.database import Database
from app.store.models import Account, Alarm, Building, Meter, Operator, Room
from app.vocabulary import AlarmSeverity, AlarmState

# Fetch big lists in chunks: the GUI thread gets the GIL between chunks.
YIELD_PER = 2000


@dataclass(frozen=True, slots=True)
class AlarmRow:
    """One line of the alarm centre. Times are UTC; ``room_label`` and ``building`` come from
    the meter's room, else the account's; "" when the alarm names neither."""

    id: int
    kind: str  # low_balance_1, meter_offline, load_guard_trip...
    severity: AlarmSeverity
    state: AlarmState
    message: str
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str  # the operator's display name, "" while not acknowledged
    ack_note: str
    cleared_at: datetime | None
    occurrences: int
    meter_serial: str
    room_label: str
    building: str  # the building's code ("A")
    account_number: str
    evidence: dict[str, object] | None


def alarm_query() -> Select[Alarm, str, str, str, str, str]:
    meter_room = aliased(Room)
    account_room = aliased(Room)
    building = aliased(Building)
    return (
        select(
            Alarm,
            Meter.serial,
            func.coalesce(meter_room.label, account_room.label),
            building.code,
            Account.number,
            Operator.display_name,
        )
        .outerjoin(Meter, Alarm.meter_id == Meter.id)
        .outerjoin(Account, Alarm.account_id == Account.id)
        .outerjoin(meter_room, Meter.room_id == meter_room.id)
        .outerjoin(account_room, Account.room_id == account_room.id)
        .outerjoin(
            building,
            building.id == func.coalesce(meter_room.building_id, account_room.building_id),
        )
        .outerjoin(Operator, Alarm.acknowledged_by_id == Operator.id)
    )


def row_of(record: Any) -> AlarmRow:
    alarm, serial, room_label, building_code, account_number, ack_by = record
    return AlarmRow(
        id=alarm.id,
        kind=alarm.kind,
        severity=alarm.severity,
        state=alarm.state,
        message=alarm.message,
        raised_at=alarm.raised_at,
        acknowledged_at=alarm.acknowledged_at,
        acknowledged_by=ack_by or "",
        ack_note=alarm.ack_note or "",
        cleared_at=alarm.cleared_at,
        occurrences=alarm.occurrences,
        meter_serial=serial or "",
        room_label=room_label or "",
        building=building_code or "",
        account_number=account_number or "",
        evidence=dict(alarm.evidence) if alarm.evidence else None,
    )


def list_alarms(db: Database) -> list[AlarmRow]:
    """Every alarm, newest first (one query)."""
    with db.session() as session:
        records = session.execute(
            alarm_query()
            .order_by(Alarm.raised_at.desc(), Alarm.id.desc())
            .execution_options(yield_per=YIELD_PER)
        ).all()
        return [row_of(r) for r in records]


def alarm_row(session: Session, alarm_id: int) -> AlarmRow | None:
    """One alarm as the list shows it, read in the caller's session."""
    record = session.execute(alarm_query().where(Alarm.id == alarm_id)).first()
    return None if record is None else row_of(record)


def get_alarm(db: Database, alarm_id: int) -> AlarmRow | None:
    with db.session() as session:
        return alarm_row(session, alarm_id)


def critical_active_count(db: Database) -> int:
    """How many critical alarms are active (not acknowledged, not cleared): the status bar's
    number."""
    with db.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Alarm)
                .where(
                    Alarm.state == AlarmState.ACTIVE,
                    Alarm.severity == AlarmSeverity.CRITICAL,
                )
            )
            or 0
        )
