"""Meter commands (supply switches, clock syncs, the meter's own alarm) carried between runtimes
through the database.

A command for a meter whose bus another runtime owns is stored ``PENDING``; that bus's owner
takes it (``take_queued``: marked ``SENT`` by a guarded update, so it runs once), sends it on
its line and records the read-back like any command. The runtime that asked learns the outcome
from the row (``settled_ids``). A command nobody takes within ``QUEUE_LIMIT_S`` (no runtime
polls its bus) fails (``expired``), a supply command with the usual "command failed" alarm,
an alarm command without one (``meter_alarms``), recorded by the site's owner.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.store.models import RelayCommand
from app.vocabulary import CommandState, RelayAction

QUEUE_LIMIT_S = 60.0
NOBODY_POLLS = "no running MeterDesk polls this meter's bus (is 'main.py serve' running?)"
ALARM_ACTIONS = frozenset({RelayAction.ALARM_ON, RelayAction.ALARM_OFF})


@dataclass(frozen=True)
class Queued:
    command_id: int
    meter_id: int
    action: RelayAction

    @property
    def on(self) -> bool:
        """A supply command's wish: supply on (True) or off; an alarm command's: alarm on."""
        return self.action in (RelayAction.OPEN_SUPPLY, RelayAction.ALARM_ON)

    @property
    def is_alarm(self) -> bool:
        """Does it ask the meter to show (or release) its alarm, rather than switch supply?"""
        return self.action in ALARM_ACTIONS


def new_command(
    session: Session, meter_id: int, action: RelayAction, reason: str, now: datetime
) -> RelayCommand:
    """A command for the meter, recorded as ``SENT`` (flushed: it has its id); the caller
    marks it ``PENDING`` when it leaves it for the bus's owner."""
    command = RelayCommand(
        meter_id=meter_id,
        action=action,
        reason=reason[:200],
        requested_at=now,
        state=CommandState.SENT,
        attempts=0,
    )
    session.add(command)
    session.flush()
    return command


def pending(session: Session, older_than: datetime | None = None) -> list[Queued]:
    """The commands waiting for a bus's owner (those asked before ``older_than``), oldest
    first: a read, cheap every round (``state`` is indexed)."""
    query = select(RelayCommand.id, RelayCommand.meter_id, RelayCommand.action).where(
        RelayCommand.state == CommandState.PENDING
    )
    if older_than is not None:
        query = query.where(RelayCommand.requested_at < older_than)
    rows = session.execute(query.order_by(RelayCommand.id)).all()
    return [Queued(c, m, RelayAction(a)) for c, m, a in rows]


def take_queued(session: Session, waiting: list[Queued]) -> list[Queued]:
    """Of ``waiting`` (``pending`` for the meters of the buses this runtime owns), those still
    waiting, each marked ``SENT`` here so that no other runtime sends it too."""
    taken: list[Queued] = []
    for queued in waiting:
        result = session.execute(
            update(RelayCommand)
            .where(RelayCommand.id == queued.command_id, RelayCommand.state == CommandState.PENDING)
            .values(state=CommandState.SENT)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            taken.append(queued)
    return taken


def expired(session: Session, now: datetime, limit_s: float = QUEUE_LIMIT_S) -> list[Queued]:
    """Commands still waiting for a bus owner after ``limit_s``."""
    return pending(session, older_than=now - timedelta(seconds=limit_s))


def settled_ids(session: Session, command_ids: Collection[int]) -> list[int]:
    """Of these commands, those whose outcome is recorded (by whichever runtime sent them)."""
    if not command_ids:
        return []
    return list(
        session.scalars(
            select(RelayCommand.id).where(
                RelayCommand.id.in_(sorted(command_ids)),
                RelayCommand.state.not_in([CommandState.PENDING, CommandState.SENT]),
            )
        )
    )
