"""What an operator does to an alarm: acknowledge it with a note, audited.

Acknowledging says "someone has seen this and is on it": the alarm stays until its cause
clears it (the runtime does that), but it no longer counts as active.
"""

from __future__ import annotations

from sqlalchemy import select

from app.queries.alarms import AlarmRow, alarm_row
from app.services.audit import record_audit
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.service_checks import Refused
from app.store.database import Database
from app.store.models import Alarm, utc_now
from app.vocabulary import AlarmState

NOTE_MAX = 500


class AlarmRefused(Refused):
    """An alarm action not done; ``field`` is "note" or "alarm" and the message says why."""


def check_note(note: str) -> str:
    text = note.strip()
    if not text:
        raise AlarmRefused(
            "note", "Write a note: what you saw or did about this alarm, for the record."
        )
    if len(text) > NOTE_MAX:
        raise AlarmRefused(
            "note", f"The note has {len(text)} characters; say it in at most {NOTE_MAX}."
        )
    return text


def acknowledge_alarm(db: Database, by: SignedIn, alarm_id: int, note: str) -> AlarmRow:
    """Mark an active alarm acknowledged by ``by`` with ``note``, in one transaction with its
    audit event; returns the alarm as the list shows it. Raises PermissionDenied, or
    AlarmRefused for a blank or long note, an unknown alarm, or one already acknowledged or
    cleared."""
    by.require(Action.ACKNOWLEDGE_ALARM)
    text = check_note(note)
    with db.transaction() as session:
        alarm = session.scalars(select(Alarm).where(Alarm.id == alarm_id).with_for_update()).first()
        if alarm is None:
            raise AlarmRefused("alarm", f"There is no alarm {alarm_id}; reload the list.")
        if alarm.state == AlarmState.CLEARED:
            raise AlarmRefused(
                "alarm", f"Alarm {alarm_id} has cleared already; there is nothing to acknowledge."
            )
        if alarm.state == AlarmState.ACKNOWLEDGED:
            raise AlarmRefused(
                "alarm", f"Alarm {alarm_id} was acknowledged already; reload the list."
            )
        before = {"state": alarm.state.value, "ack_note": alarm.ack_note}
        alarm.state = AlarmState.ACKNOWLEDGED
        alarm.acknowledged_at = utc_now()
        alarm.acknowledged_by_id = by.operator_id
        alarm.ack_note = text
        session.flush()
        record_audit(
            session,
            by,
            "alarm.acknowledge",
            "alarm",
            alarm.id,
            before,
            {"state": alarm.state.value, "ack_note": text, "kind": alarm.kind},
        )
        row = alarm_row(session, alarm.id)
    assert row is not None
    return row
