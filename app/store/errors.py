"""Store failures a person can act on. Each message says what is wrong and what to do."""

from __future__ import annotations

from app.vocabulary import ExitCode


class StoreError(Exception):
    """Base of every database problem MeterDesk explains to the operator instead of crashing."""

    exit_code: int = ExitCode.STORE


class DataDirError(StoreError):
    """The data folder cannot be created or written."""

    exit_code: int = ExitCode.DATA_DIR


class DatabaseUnreadable(StoreError):
    """The database file exists but is not a readable SQLite/MeterDesk database."""

    exit_code: int = ExitCode.DATABASE_UNREADABLE


class SchemaTooNew(StoreError):
    """The database was written by a newer MeterDesk; this version must not touch it."""

    exit_code: int = ExitCode.SCHEMA_TOO_NEW


class DatabaseUnreachable(StoreError):
    """A server database (PostgreSQL) cannot be reached or refused the login."""

    exit_code: int = ExitCode.DATABASE_UNREACHABLE


class NotMigrated(StoreError):
    """The schema is older than this program; ``main.py db upgrade`` brings it up to date."""

    exit_code: int = ExitCode.NOT_MIGRATED


class NoDatabase(StoreError):
    """The data folder has no database yet; a command that only works on a site said so and
    created nothing."""

    exit_code: int = ExitCode.NOT_MIGRATED


class BadDatabaseUrl(StoreError):
    """``--db`` names no database MeterDesk can use (not a URL, or another kind of server)."""

    exit_code: int = ExitCode.USAGE


class DatabaseFull(StoreError):
    """The disk (or the server's disk) is full: nothing was written, nothing is damaged."""

    exit_code: int = ExitCode.STORE


class DatabaseBusy(StoreError):
    """Another program held the database longer than MeterDesk waits: nothing was written."""

    exit_code: int = ExitCode.STORE


# What ``--db`` may name: SQLite (the embedded default) and PostgreSQL through psycopg 3, the
# drivers MeterDesk installs and is tested on.
USABLE_DRIVERS = {"sqlite": ("pysqlite",), "postgresql": ("psycopg",)}
URL_EXAMPLE = "postgresql+psycopg://user:password@host/meterdesk"


def check_database_url(url: str | None) -> None:
    """Refuse a ``--db`` value that is not a database URL MeterDesk can use, before anything
    connects; ``BadDatabaseUrl`` (exit 2) says what to give instead. None or empty: no
    ``--db`` (the data folder's SQLite file), nothing to check."""
    if not url:
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise BadDatabaseUrl(
            f"--db: {_shortened(url)!r} is not a database URL; give one like {URL_EXAMPLE}, or "
            "leave --db out to use the SQLite file in the data folder."
        ) from None
    backend = parsed.get_backend_name()
    drivers = USABLE_DRIVERS.get(backend)
    if drivers is None:
        raise BadDatabaseUrl(
            f"--db: MeterDesk keeps its data in SQLite or PostgreSQL, not {backend}; give a "
            f"URL like {URL_EXAMPLE}."
        )
    driver = parsed.get_driver_name()
    if driver not in drivers:
        raise BadDatabaseUrl(
            f"--db: the {backend} driver {driver!r} is not one MeterDesk uses; write the URL "
            f"as {backend}+{drivers[0]}://..."
        )


def _shortened(text: str) -> str:
    return text if len(text) <= 60 else f"{text[:57]}..."


# SQLite's primary result codes (the low byte of an extended code).
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_IOERR = 10
SQLITE_FULL = 13
# PostgreSQL's SQLSTATEs of the same troubles.
PG_DISK_FULL = "53100"
PG_LOCK_NOT_AVAILABLE = "55P03"
PG_QUERY_CANCELED = "57014"  # a statement_timeout or lock_timeout ran out
LOW_DISK_BYTES = 1024 * 1024  # less than this free, a write error is the full disk's


def failure_kind(orig: BaseException | None, *, folder_free_bytes: int | None = None) -> str:
    """What a driver's error means for the operator: ``full``, ``busy``, ``io`` or ``other``.

    ``orig`` is the DB-API exception (``sqlite3.OperationalError``, a psycopg error).
    ``folder_free_bytes``: the free space where an SQLite file lives, when known: a disk I/O
    error while the disk has (almost) no room left is a full disk (ENOSPC), not a damaged
    file."""
    if orig is None:
        return "other"
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        if sqlstate == PG_DISK_FULL:
            return "full"
        if sqlstate in (PG_LOCK_NOT_AVAILABLE, PG_QUERY_CANCELED):
            return "busy"
        return "other"
    code = getattr(orig, "sqlite_errorcode", None)
    text = str(orig).lower()
    primary = code & 0xFF if isinstance(code, int) else None
    if primary == SQLITE_FULL or "database or disk is full" in text:
        return "full"
    if primary in (SQLITE_BUSY, SQLITE_LOCKED) or "database is locked" in text:
        return "busy"
    if primary == SQLITE_IOERR or "disk i/o error" in text:
        if folder_free_bytes is not None and folder_free_bytes < LOW_DISK_BYTES:
            return "full"
        return "io"
    return "other"


def explain_failure(
    orig: BaseException | None,
    where: str,
    *,
    folder_free_bytes: int | None = None,
    holders: list[str] | None = None,
) -> StoreError | None:
    """The ``StoreError`` an operator reads for a database error while working (a full disk,
    a lock held too long), or None when it is none of those.

    ``where`` names the database (a file, or a URL without password); ``holders`` are the
    programs that held it (PostgreSQL's ``pg_stat_activity``: application, user, address),
    when the database can tell."""
    kind = failure_kind(orig, folder_free_bytes=folder_free_bytes)
    if kind == "full":
        return DatabaseFull(
            f"The disk of the database {where} is full, so nothing was saved; the data "
            "already there is intact. Free space on that disk (old backups, logs), then do it "
            "again. Do not restore a backup: that would lose today's work."
        )
    if kind == "busy":
        who = f" It is held by {'; '.join(holders)}." if holders else ""
        return DatabaseBusy(
            f"The database {where} is busy: another program kept it locked longer than "
            f"MeterDesk waits, so nothing was saved.{who} Wait until that program has "
            "finished (a backup, a large import, a console left in the middle of a change), "
            "then do it again."
        )
    return None


LOCK_HOLDERS_SQL = """
SELECT coalesce(nullif(application_name, ''), 'a program'), usename,
       coalesce(host(client_addr), 'this server'), state
FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
ORDER BY xact_start
LIMIT 3
"""


def describe_holders(rows: list[tuple[str, str, str, str]]) -> list[str]:
    """``pg_stat_activity`` rows (application, user, address, state) as the words of a
    ``DatabaseBusy`` message: ``MeterDesk serve (user meterdesk at 10.0.0.5, idle in
    transaction)``."""
    return [f"{app} (user {user} at {address}, {state})" for app, user, address, state in rows]
