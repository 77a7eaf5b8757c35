"""A database error met while working, turned into the ``StoreError`` an operator can act on.

A full disk and a lock held too long are not damage: the message says so, and what to do
(free space; wait and do it again), instead of a driver's traceback or a "cannot be read ...
restore a backup" that would lose the day's work if followed. Used around a command's or a
screen's unit of work: ``with explained(db): ...``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from app.store.errors import (
    LOCK_HOLDERS_SQL,
    StoreError,
    describe_holders,
    explain_failure,
    failure_kind,
)

if TYPE_CHECKING:
    from app.store.database import Database

HOLDERS_TIMEOUT_MS = 2000  # asking who holds the lock must not wait on a lock itself


def store_error_of(exc: DBAPIError, db: Database) -> StoreError | None:
    """The operator's ``StoreError`` for ``exc`` (a full disk, a busy database), or None when
    it is another error (the caller lets it pass)."""
    free: int | None = None
    if db.file_path is not None:
        try:
            free = shutil.disk_usage(db.file_path.parent).free
        except OSError:
            free = None
    holders: list[str] | None = None
    if not db.is_sqlite and failure_kind(exc.orig) == "busy":
        holders = lock_holders(db)
    return explain_failure(exc.orig, db.display_name, folder_free_bytes=free, holders=holders)


def lock_holders(db: Database) -> list[str]:
    """Who holds transactions open on a PostgreSQL database (``pg_stat_activity``: its
    ``application_name``, user and address), oldest first; empty when it cannot be asked."""
    try:
        with db.engine.connect() as conn:
            conn.execute(text(f"SET LOCAL statement_timeout = {HOLDERS_TIMEOUT_MS}"))
            rows = conn.execute(text(LOCK_HOLDERS_SQL)).all()
    except SQLAlchemyError:
        return []
    return describe_holders([(str(a), str(u), str(h), str(s)) for a, u, h, s in rows])


@contextmanager
def explained(db: Database) -> Iterator[None]:
    """Run a unit of work; a full disk or a busy database leaves it as the ``StoreError`` that
    says so (the transaction has rolled back: nothing was written). Other errors pass."""
    try:
        yield
    except DBAPIError as exc:
        error = store_error_of(exc, db)
        if error is None:
            raise
        raise error from exc
