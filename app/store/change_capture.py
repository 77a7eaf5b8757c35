"""Which rows a transaction changed, taken from the ORM itself, and published when it commits.

Nothing in the services or the runtime publishes by hand: ``ChangeCapture`` listens to the
sessions of one ``Database`` (its sessionmaker, never every Session of the process) and
records, per transaction, what ``WATCHES`` names (``app.store.change_watches``):

- objects flushed (``after_flush``: new, deleted, and dirty ones whose watched columns changed,
  by attribute history);
- statements run through the session that write a watched table (``do_orm_execute``: the
  engine's bulk INSERTs and UPDATEs; ``app.store.change_statements``).

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
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from sqlalchemy import Table, event, text
from sqlalchemy.engine import Result
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, sessionmaker

from app.store.change_statements import collect_statement
from app.store.change_watches import WATCH_BY_TABLE, record_object
from app.store.changes import CHANNEL, ChangeCollector, Changes, encode

log = logging.getLogger(__name__)

BUCKETS_KEY = "meterdesk_change_buckets"  # session.info: SessionTransaction -> ChangeCollector


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
            record_object(collector, obj, always=True)
        for obj in session.deleted:
            record_object(collector, obj, always=True)
        for obj in session.dirty:
            record_object(collector, obj, always=False)

    def _on_execute(self, state: ORMExecuteState) -> Result[Any] | None:
        if not (state.is_insert or state.is_update or state.is_delete):
            return None
        return collect_statement(state, lambda: _bucket(state.session))

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


def note_rows(session: Session, table: Table, rows: Iterable[Mapping[str, Any]]) -> None:
    """Rows inserted around the ORM (``COPY``): published as the ORM's inserts would be."""
    watch = WATCH_BY_TABLE.get(table.name)
    if watch is not None:
        _bucket(session).add(watch.kind, {int(row[watch.id_attr]) for row in rows})


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
