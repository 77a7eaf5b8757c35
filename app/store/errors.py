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
