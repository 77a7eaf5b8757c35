"""A technician's diagnostics, line test or scan borrows a bus's line from the runtime that polls
it (on this PC or another).

Two masters on one RS485 line garble each other, so before the diagnostics dialog, a set-up job
(``field_setup.run_on_bus``) or a wire command (``main.py meter read``) opens a port that the
site polls it asks that bus's owner to pause (``ask_pause``: written on the owner's row, for at
most ``PAUSE_S``; ``borrow_line`` asks and waits). The owner stops that bus's worker, which
closes the port, keeps the bus's lock, says so (``paused``) and resumes when the pause ends
(``end_pause``) or runs out. An owner that has not shown a heartbeat for ``STALE_S`` is taken
for gone: nothing to ask.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.database import Database
from app.store.field_lock import bus_unit
from app.store.models import Bus, FieldOwner

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


@dataclass(frozen=True)
class Borrowed:
    """What ``borrow_line`` found: the runtime that polled the bus (None: nobody did), and
    whether the port is free to open (nobody polls it, or its owner paused)."""

    owner: BusOwner | None
    free: bool


def borrow_line(
    db: Database,
    bus_id: int,
    by: str,
    *,
    wait_s: float = ACK_WAIT_S,
    stop: threading.Event | None = None,
) -> Borrowed:
    """Ask the runtime that polls the bus to let go of its port and wait until it did (then
    ``end_pause`` gives it back). An owner that did not let go within ``wait_s`` (or before
    ``stop``) has its pause taken back: the port is not free."""
    owner = ask_pause(db, bus_id, by, datetime.now(UTC))
    if owner is None:
        return Borrowed(None, True)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
        state = pause_state(db, bus_id, datetime.now(UTC))
        if state is None or state.paused:
            return Borrowed(owner, True)
        time.sleep(0.25)
    end_pause(db, bus_id, by)
    return Borrowed(owner, False)


def not_let_go(owner: BusOwner) -> str:
    """What to tell someone who could not borrow the line from ``owner``."""
    return (
        f"{owner.role} on {owner.host} polls this bus and did not let go of its port within "
        f"{ACK_WAIT_S:.0f} s: two masters on one line garble each other. Try again, or stop it "
        "first."
    )


def asked_by(what: str) -> str:
    """Who asks for a pause, as the owner shows it: "bus scan on PC2"."""
    return f"{what} on {socket.gethostname()}"


def bus_at_port(db: Database, url: str) -> tuple[int, str] | None:
    """The site's bus (id, name) on the port ``url``, or None."""
    with db.session() as session:
        found = session.execute(
            select(Bus.id, Bus.name).where(Bus.url == url.strip()).order_by(Bus.id).limit(1)
        ).first()
    return None if found is None else (found[0], found[1])
