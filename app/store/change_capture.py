"""Which rows a transaction changed, taken from the ORM itself, and published when it commits.

Nothing in the services or the runtime publishes by hand: ``ChangeCapture`` listens to the
sessions of one ``Database`` (its sessionmaker, never every Session of the process) and
records, per transaction, what ``WATCHES`` names:

- objects flushed (``after_flush``: new, deleted, and dirty ones whose watched columns changed,
  by attribute history);
- statements run through the session that write a watched table (``do_orm_execute``: the
  engine's bulk INSERTs and UPDATEs). The ids come from the statement's parameters or its
  ``WHERE id = ...`` / ``id IN (...)``; when they cannot be known the kind is "all". A watch
  with ``compare_bulk`` reads its watched columns before and after such an UPDATE and keeps
  only the rows that really changed (the poll marks every meter it saw, again and again).

A savepoint's changes join its parent's when it is released and are dropped when it rolls
back; a rolled-back transaction publishes nothing. On commit (the outermost one):

- PostgreSQL: ``SELECT pg_notify('meterdesk_changes', payload)`` inside the transaction just
  before COMMIT (the server delivers it on commit and drops it on rollback) to every
  process listening (``app.store.change_feed.ChangeListener``);
- SQLite: after COMMIT, the batch goes to the subscribers of this ``Database`` in this process
  (``LocalFeed``), on the committing thread.

Statements given as SQL text, and writes through a bare Connection, are not seen.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Column, Table, event, or_, select, text
from sqlalchemy.engine import Result
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, sessionmaker
from sqlalchemy.orm.attributes import get_history
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import (
    BinaryExpression,
    BindParameter,
    BooleanClauseList,
    ClauseElement,
    ColumnElement,
    Grouping,
)

from app.store.changes import (
    CHANNEL,
    SUMMARY_LIMIT,
    ChangeCollector,
    ChangeKind,
    Changes,
    encode,
)
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

log = logging.getLogger(__name__)

BUCKETS_KEY = "meterdesk_change_buckets"  # session.info: SessionTransaction -> ChangeCollector
_CHUNK = 900  # ids per IN (...) of a before/after read: under SQLite's oldest variable limit
# Past this many rows a comparison reads the whole table's changing rows instead of naming each
# id (binding thousands of ids costs more than scanning: the rows that differ are few).
_SCAN_ABOVE = 2000


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

Subscriber = Callable[[Changes], None]


class LocalFeed:
    """Subscribers of one Database in this process (SQLite). Thread-safe; each batch goes to
    every subscriber on the committing thread; a subscriber that raises is logged and the
    others still get the batch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add ``subscriber``; returns the call that removes it again."""
        with self._lock:
            self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with self._lock:
                if subscriber in self._subscribers:
                    self._subscribers.remove(subscriber)

        return unsubscribe

    def deliver(self, changes: Changes) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(changes)
            except Exception:
                log.exception("a change subscriber failed; the commit stands")


class ChangeCapture:
    """Collects and publishes the changes of every session ``sessions`` makes (one Database).
    ``notify``: publish with pg_notify (PostgreSQL), else to ``local`` after commit."""

    def __init__(self, sessions: sessionmaker[Session], *, notify: bool) -> None:
        self.notify = notify
        self.local = LocalFeed()
        event.listen(sessions, "after_flush", self._after_flush)
        event.listen(sessions, "do_orm_execute", self._on_execute)
        event.listen(sessions, "before_commit", self._before_commit)
        event.listen(sessions, "after_commit", self._after_commit)
        event.listen(sessions, "after_transaction_end", self._after_transaction_end)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """SQLite: ``subscriber(changes)`` after each commit of this Database, on the committing
        thread. Returns the call that unsubscribes."""
        return self.local.subscribe(subscriber)

    # -- collecting ----------------------------------------------------------------------------

    def _after_flush(self, session: Session, _context: object) -> None:
        collector = _bucket(session)
        for obj in session.new:
            _record_object(collector, obj, always=True)
        for obj in session.deleted:
            _record_object(collector, obj, always=True)
        for obj in session.dirty:
            _record_object(collector, obj, always=False)

    def _on_execute(self, state: ORMExecuteState) -> Result[Any] | None:
        if not (state.is_insert or state.is_update or state.is_delete):
            return None
        table = getattr(state.statement, "table", None)
        watch = WATCH_BY_TABLE.get(getattr(table, "name", ""))
        if watch is None:
            return None
        params = _param_rows(state.parameters)
        if state.is_insert:
            ids = _from_params(params, watch.id_attr)
        else:
            where = getattr(state.statement, "whereclause", None)
            ids = (
                _ids_in_where(where, watch, params)
                if where is not None
                else _from_params(params, watch.id_attr)
            )
        collector = _bucket(state.session)
        if ids is None:
            collector.add_whole(watch.kind)
            return None
        if not (watch.compare_bulk and state.is_update and watch.id_attr == "id"):
            if len(ids) > SUMMARY_LIMIT:
                collector.add_whole(watch.kind)  # summarised anyway: no need to list them
            else:
                collector.add(watch.kind, ids)
            return None
        planned = _planned_groups(state.statement, watch, ids, params)
        if planned is not None:  # one read: the rows of which a watched column will change
            collector.add(watch.kind, _will_change(state.session, watch, planned))
            return None
        before = _current_values(state.session, watch, _compared(watch), ids)
        result = state.invoke_statement()
        after = _current_values(state.session, watch, _compared(watch), ids)
        collector.add(watch.kind, (i for i in ids if before.get(i) != after.get(i)))
        return result

    # -- publishing ------------------------------------------------------------------------------

    def _before_commit(self, session: Session) -> None:
        if not self.notify or session.get_nested_transaction() is not None:
            return  # SQLite publishes after commit; a savepoint publishes nothing
        session.flush()  # what the commit would flush next is published too
        root = session.get_transaction()
        collector = _buckets(session).get(root) if root is not None else None
        if not collector:
            return
        connection = session.connection()
        for payload in encode(collector.freeze()):
            connection.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": CHANNEL, "payload": payload},
            )

    def _after_commit(self, session: Session) -> None:
        buckets = _buckets(session)
        nested = session.get_nested_transaction()
        if nested is not None:  # a savepoint released: its changes join the enclosing one
            collector = buckets.pop(nested, None)
            if collector:
                _bucket_of(buckets, _enclosing(nested)).absorb(collector)
            return
        root = session.get_transaction()
        collector = buckets.pop(root, None) if root is not None else None
        if collector and not self.notify:
            self.local.deliver(collector.freeze())

    def _after_transaction_end(self, session: Session, transaction: SessionTransaction) -> None:
        _buckets(session).pop(transaction, None)  # rolled back: nothing to publish


# -- where a transaction's changes are kept --------------------------------------------------


def _buckets(session: Session) -> dict[SessionTransaction, ChangeCollector]:
    found = session.info.get(BUCKETS_KEY)
    if found is None:
        found = session.info[BUCKETS_KEY] = {}
    return cast(dict[SessionTransaction, ChangeCollector], found)


def _bucket(session: Session) -> ChangeCollector:
    """The collector of the innermost savepoint, else of the outermost transaction."""
    current = session.get_nested_transaction() or session.get_transaction()
    assert current is not None, "a change outside a transaction"
    return _bucket_of(_buckets(session), current)


def _bucket_of(
    buckets: dict[SessionTransaction, ChangeCollector], transaction: SessionTransaction
) -> ChangeCollector:
    found = buckets.get(transaction)
    if found is None:
        found = buckets[transaction] = ChangeCollector()
    return found


def _enclosing(nested: SessionTransaction) -> SessionTransaction:
    """The savepoint or outermost transaction a savepoint's changes belong to once released."""
    parent = nested.parent
    assert parent is not None
    while not parent.nested and parent.parent is not None:
        parent = parent.parent
    return parent


# -- flushed objects ----------------------------------------------------------------------------


def _record_object(collector: ChangeCollector, obj: object, *, always: bool) -> None:
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


# -- statements -----------------------------------------------------------------------------------


def _param_rows(parameters: object) -> list[Mapping[str, Any]] | None:
    """The statement's parameter rows (executemany: several), or None when it has none."""
    if isinstance(parameters, Mapping):
        return [parameters] if parameters else None
    if isinstance(parameters, Sequence) and parameters:
        rows = [row for row in parameters if isinstance(row, Mapping)]
        return rows if len(rows) == len(parameters) else None
    return None


def _from_params(rows: list[Mapping[str, Any]] | None, key: str) -> list[int] | None:
    if not rows or not all(key in row for row in rows):
        return None
    return _whole_numbers(row[key] for row in rows)


def _whole_numbers(values: Iterable[object]) -> list[int] | None:
    found: list[int] = []
    for value in values:
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        found.append(value)
    return found


def _conjuncts(clause: object) -> list[object]:
    if isinstance(clause, Grouping):
        return _conjuncts(clause.element)
    if isinstance(clause, BooleanClauseList) and clause.operator is operators.and_:
        return [part for sub in clause.clauses for part in _conjuncts(sub)]
    return [clause]


def _is_column(element: object, table_name: str, key: str) -> bool:
    table = getattr(element, "table", None)
    return (
        isinstance(element, Column | ClauseElement)
        and getattr(element, "key", None) == key
        and getattr(table, "name", None) == table_name
    )


def _ids_in_where(
    where: object, watch: Watch, rows: list[Mapping[str, Any]] | None
) -> list[int] | None:
    """The ids a ``WHERE`` limits the statement to (``id = value``, ``id = :param`` of each
    parameter row, ``id IN (values)``, within ANDs); None when it does not say."""
    for clause in _conjuncts(where):
        if not isinstance(clause, BinaryExpression):
            continue
        left, right = clause.left, clause.right
        if _is_column(right, watch.table.name, watch.id_attr):
            left, right = right, left
        if not _is_column(left, watch.table.name, watch.id_attr):
            continue
        if not isinstance(right, BindParameter):
            continue
        if clause.operator is operators.eq:
            if rows and all(right.key in row for row in rows):
                return _whole_numbers(row[right.key] for row in rows)
            return _whole_numbers([right.effective_value])
        if clause.operator is operators.in_op and right.expanding:
            values = right.effective_value
            return _whole_numbers(values) if isinstance(values, list | tuple) else None
    return None


def _compared(watch: Watch) -> list[str]:
    return sorted(watch.columns or ()) + sorted(watch.nullness)


def _current_values(
    session: Session, watch: Watch, columns: list[str], ids: list[int]
) -> dict[int, dict[str, Any]]:
    """``columns`` of rows ``ids`` as they are now (a nullness column as "is set")."""
    table = watch.table
    key = table.c[watch.id_attr]
    selected: list[ColumnElement[Any]] = [
        table.c[name].is_not(None) if name in watch.nullness else table.c[name] for name in columns
    ]
    connection = session.connection()
    found: dict[int, dict[str, Any]] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        for row in connection.execute(select(key, *selected).where(key.in_(chunk))):
            found[row[0]] = dict(zip(columns, row[1:], strict=True))
    return found


def _planned_groups(
    statement: object, watch: Watch, ids: list[int], rows: list[Mapping[str, Any]] | None
) -> dict[tuple[tuple[str, Any], ...], list[int]] | None:
    """What an UPDATE sets in the watched columns, read from its SET clause and parameters, as
    the ids of the rows getting each set of values (a poll sets the same few to thousands);
    None when that cannot be told (an expression, or a SET clause not readable)."""
    # SQLAlchemy keeps an UPDATE's SET clause in ``_values`` (no public accessor); anything
    # else than the mapping expected falls back to reading the rows before and after.
    values = getattr(statement, "_values", None)
    if not isinstance(values, Mapping):
        return None
    watched = set(_compared(watch))
    setting: list[tuple[str, BindParameter[Any]]] = []
    for column, value in values.items():
        name = column if isinstance(column, str) else getattr(column, "key", None)
        if name not in watched:
            continue
        if not isinstance(value, BindParameter):
            return None
        setting.append((name, value))
    if not setting:
        return {}  # no watched column is set: nothing to tell
    if rows is None or len(rows) == 1:  # one set of values for every id
        row = rows[0] if rows else {}
        same = tuple(
            _comparable(watch, name, row.get(bind.key, bind.effective_value))
            for name, bind in setting
        )
        return {tuple(zip((n for n, _b in setting), same, strict=True)): list(ids)}
    if len(rows) != len(ids):
        return None  # the ids do not come one per parameter row
    first = rows[0]
    per_row = [(name, bind.key) for name, bind in setting if bind.key in first]
    fixed = tuple(
        (name, _comparable(watch, name, bind.effective_value))
        for name, bind in setting
        if bind.key not in first
    )
    by_values: dict[tuple[Any, ...], list[int]] = {}
    try:
        for row, row_id in zip(rows, ids, strict=True):
            found = tuple(_comparable(watch, name, row[key]) for name, key in per_row)
            by_values.setdefault(found, []).append(row_id)
    except (KeyError, TypeError):  # a row without the value, or one that cannot be grouped
        return None
    return {
        fixed + tuple(zip((n for n, _k in per_row), found, strict=True)): group
        for found, group in by_values.items()
    }


def _comparable(watch: Watch, name: str, value: Any) -> Any:
    """A value to group by: of a nullness column only whether it is set."""
    return (value is not None) if name in watch.nullness else value


def _will_change(
    session: Session, watch: Watch, groups: dict[tuple[tuple[str, Any], ...], list[int]]
) -> list[int]:
    """The ids, of each group, whose watched columns differ from the group's values now: the
    database compares, so only rows that change come back."""
    table = watch.table
    key = table.c[watch.id_attr]
    connection = session.connection()
    found: list[int] = []
    for planned, ids in groups.items():
        differs = or_(
            *(
                (table.c[name].is_(None) if value else table.c[name].is_not(None))
                if name in watch.nullness
                else table.c[name].is_distinct_from(value)
                for name, value in planned
            )
        )
        unique = sorted(set(ids))
        if len(unique) > _SCAN_ABOVE:  # most of the table: scan it, keep the ids asked for
            wanted = set(unique)
            found.extend(i for i in connection.scalars(select(key).where(differs)) if i in wanted)
            continue
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            found.extend(connection.scalars(select(key).where(key.in_(chunk), differs)))
    return found
