"""A technician's diagnostics on another PC borrows a bus's line from the runtime that polls it.

Two masters on one RS485 line garble each other, so before the dialog opens a port that the
site polls it asks that bus's owner to pause (``ask_pause``: written on the owner's row, for at
most ``PAUSE_S``). The owner stops that bus's worker, which closes the port, keeps the bus's
lock, says so (``paused``) and resumes when the pause ends (``end_pause``) or runs out. An
owner that has not shown a heartbeat for ``STALE_S`` is taken for gone: nothing to ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.store.database import Database
from app.store.field_lock import bus_unit
from app.store.models import FieldOwner

PAUSE_S = 30 * 60  # the longest a pause lasts unless asked again
ACK_WAIT_S = 15.0  # how long the dialog waits for the owner to let go of the port
STALE_S = 20.0  # an owner row without a heartbeat for this long: the owner is gone


@dataclass(frozen=True)
class BusOwner:
    host: str
    pid: int
    role: str
    paused: bool
    pause_until: datetime | None


def _live_row(session: Session, bus_id: int, now: datetime) -> FieldOwner | None:
    row = session.get(FieldOwner, bus_unit(bus_id))
    if row is None or row.seen_at < now - timedelta(seconds=STALE_S):
        return None
    return row


def ask_pause(
    db: Database, bus_id: int, by: str, now: datetime, seconds: float = PAUSE_S
) -> BusOwner | None:
    """Ask the runtime that polls the bus to let go of its port until ``now + seconds``; the
    owner asked, or None when no live runtime polls the bus (the port is free to open)."""
    with db.transaction() as session:
        row = _live_row(session, bus_id, now)
        if row is None:
            return None
        row.pause_until = now + timedelta(seconds=seconds)
        row.pause_by = by[:120]
        return BusOwner(row.host, row.pid, row.role, row.paused, row.pause_until)


def pause_state(db: Database, bus_id: int, now: datetime) -> BusOwner | None:
    """The live owner of the bus and whether it paused, or None when nobody polls it."""
    with db.session() as session:
        row = _live_row(session, bus_id, now)
        if row is None:
            return None
        return BusOwner(row.host, row.pid, row.role, row.paused, row.pause_until)


def end_pause(db: Database, bus_id: int, by: str) -> None:
    """The technician is done: the owner resumes polling (a pause asked by someone else since
    is left alone)."""
    with db.transaction() as session:
        row = session.get(FieldOwner, bus_unit(bus_id))
        if row is not None and row.pause_by == by[:120]:
            row.pause_until = None
            row.pause_by = ""
