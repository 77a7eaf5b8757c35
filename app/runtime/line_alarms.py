"""The line-down alarm: one critical alarm per bus whose port cannot be opened or failed while
open (a USB-RS485 adapter pulled out, a gateway switched off), cleared when the port works again.

Engine thread (the runtime forwards each bus worker's ``on_line`` here as a task). An alarm has
no bus column: the bus's id is kept in the alarm's evidence, and the few open line alarms are
matched in Python. Its meters are marked offline by the reading store without an alarm each:
one alarm says what happened to all of them.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.models import Alarm
from app.vocabulary import AlarmKind, AlarmSeverity, AlarmState


def open_line_alarms(session: Session) -> list[Alarm]:
    """The line alarms not yet cleared (active or acknowledged)."""
    return list(
        session.scalars(
            select(Alarm).where(
                Alarm.kind == AlarmKind.LINE_DOWN, Alarm.state != AlarmState.CLEARED
            )
        )
    )


def bus_of(alarm: Alarm) -> object:
    return (alarm.evidence or {}).get("bus_id")


def line_down(
    session: Session, bus_id: int, bus_name: str, port: str, error: str, now: datetime
) -> None:
    """Raise the bus's line alarm, unless one is open already (the port failing again in
    another way is the same fault)."""
    if any(bus_of(alarm) == bus_id for alarm in open_line_alarms(session)):
        return
    session.add(
        Alarm(
            kind=AlarmKind.LINE_DOWN,
            severity=AlarmSeverity.CRITICAL,
            message=(
                f"Line down: bus {bus_name} on {port}: {error}. None of its meters can be read "
                "or switched until the port works again; check the cable, the USB-RS485 "
                "adapter or the gateway."
            ),
            evidence={"bus_id": bus_id, "bus": bus_name, "port": port, "error": error},
            raised_at=now,
        )
    )


def line_up(session: Session, bus_id: int, now: datetime) -> None:
    """The bus's port works again: its line alarm is cleared."""
    end_line_alarms(session, now, only=[bus_id])


def end_line_alarms(
    session: Session,
    now: datetime,
    *,
    only: Collection[int] | None = None,
    keep: Collection[int] = (),
) -> None:
    """Clear the open line alarms of the buses ``only`` (None: every bus) but those in
    ``keep``: a bus no longer polled (disabled, retired, or gone since the last run) has no
    line to be down."""
    for alarm in open_line_alarms(session):
        bus_id = bus_of(alarm)
        if (only is None or bus_id in only) and bus_id not in keep:
            alarm.state = AlarmState.CLEARED
            alarm.cleared_at = now
