"""What the change feed publishes: the one table mapping rows of our models to change kinds,
and how a flushed object is judged changed (by its attribute history)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table
from sqlalchemy.orm.attributes import get_history

from app.store.changes import ChangeCollector, ChangeKind
from app.store.models import (
    Account,
    Alarm,
    Base,
    IntervalReading,
    LedgerEntry,
    LoadTrip,
    Meter,
    RelayCommand,
)


@dataclass(frozen=True)
class Watch:
    """One row of the mapping: rows of ``model`` publish ``kind`` with the value of ``id_attr``.
    A new or deleted row always counts; an updated one when a column of ``columns`` changed
    (None: any column), or one of ``nullness`` went from NULL to a value or back."""

    kind: ChangeKind
    model: type[Base]
    id_attr: str
    columns: frozenset[str] | None = None
    nullness: frozenset[str] = frozenset()
    compare_bulk: bool = False

    @property
    def table(self) -> Table:
        return cast(Table, self.model.__table__)


# The whole mapping: what each watched model publishes.
WATCHES: tuple[Watch, ...] = (
    Watch(ChangeKind.BALANCE, LedgerEntry, "account_id"),
    Watch(
        ChangeKind.ACCOUNT,
        Account,
        "id",
        columns=frozenset(
            {
                "status",
                "supply_state",
                "balance_minor",
                "keep_power_until",
                "room_id",
                "policy_id",
                "holder_name",
            }
        ),
    ),
    Watch(ChangeKind.ALARM, Alarm, "id"),
    Watch(
        ChangeKind.METER,
        Meter,
        "id",
        columns=frozenset(
            {"status", "relay_closed", "off_reason", "account_id", "room_id", "removed_at"}
        ),
        nullness=frozenset({"last_seen_at"}),  # polled for the first time
        compare_bulk=True,
    ),
    Watch(ChangeKind.COMMAND, RelayCommand, "id"),
    Watch(ChangeKind.TRIP, LoadTrip, "meter_id"),
    Watch(ChangeKind.READING, IntervalReading, "meter_id"),
)
WATCH_BY_MODEL: dict[type[object], Watch] = {w.model: w for w in WATCHES}
WATCH_BY_TABLE: dict[str, Watch] = {w.table.name: w for w in WATCHES}


def record_object(collector: ChangeCollector, obj: object, *, always: bool) -> None:
    """Record ``obj`` if its model is watched: ``always`` (new or deleted), else when a watched
    column changed."""
    watch = WATCH_BY_MODEL.get(type(obj))
    if watch is None:
        return
    if not always and not _changed(obj, watch):
        return
    value = getattr(obj, watch.id_attr, None)
    if isinstance(value, int):
        collector.add(watch.kind, (value,))


def _changed(obj: object, watch: Watch) -> bool:
    names = (
        watch.columns
        if watch.columns is not None
        else frozenset(c.key for c in watch.table.columns)
    )
    for name in names:
        if get_history(obj, name).has_changes():
            return True
    for name in watch.nullness:
        history = get_history(obj, name)
        if history.has_changes():
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if (old is None) != (new is None):
                return True
    return False
