"""Supply commands carried between runtimes through the database.

A command for a meter whose bus another runtime owns is stored ``PENDING``; that bus's owner
takes it (``take_queued``: marked ``SENT`` by a guarded update, so it runs once), sends it on
its line and records the read-back like any command. The runtime that asked learns the outcome
from the row (``settled_ids``). A command nobody takes within ``QUEUE_LIMIT_S`` (no runtime
polls its bus) fails with the usual "command failed" alarm (``expired``), raised by the site's
owner.
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
_ON_ACTIONS = frozenset({RelayAction.OPEN_SUPPLY})


@dataclass(frozen=True)
class Queued:
    command_id: int
    meter_id: int
    on: bool


def queued_for(session: Session, meter_ids: Collection[int]) -> bool:
    """Whether a command waits for one of these meters (a read, cheap every round)."""
    waiting = session.scalars(
        select(RelayCommand.meter_id).where(RelayCommand.state == CommandState.PENDING)
    ).all()
    return any(meter_id in meter_ids for meter_id in waiting)


def take_queued(session: Session, meter_ids: Collection[int]) -> list[Queued]:
    """The waiting commands of these meters (the buses this runtime owns), oldest first, each
    marked ``SENT`` here so that no other runtime sends it too."""
    if not meter_ids:
        return []
    rows = session.execute(
        select(RelayCommand.id, RelayCommand.meter_id, RelayCommand.action)
        .where(RelayCommand.state == CommandState.PENDING)
        .order_by(RelayCommand.id)
    ).all()
    taken: list[Queued] = []
    for command_id, meter_id, action in rows:
        if meter_id not in meter_ids:
            continue
        result = session.execute(
            update(RelayCommand)
            .where(RelayCommand.id == command_id, RelayCommand.state == CommandState.PENDING)
            .values(state=CommandState.SENT)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            taken.append(Queued(command_id, meter_id, RelayAction(action) in _ON_ACTIONS))
    return taken


def expired(session: Session, now: datetime, limit_s: float = QUEUE_LIMIT_S) -> list[Queued]:
    """Commands still waiting for a bus owner after ``limit_s``."""
    rows = session.execute(
        select(RelayCommand.id, RelayCommand.meter_id, RelayCommand.action)
        .where(
            RelayCommand.state == CommandState.PENDING,
            RelayCommand.requested_at < now - timedelta(seconds=limit_s),
        )
        .order_by(RelayCommand.id)
    ).all()
    return [Queued(c, m, RelayAction(a) in _ON_ACTIONS) for c, m, a in rows]


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
