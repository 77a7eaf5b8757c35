"""Copy every table of MeterDesk's schema from a SQLite file into a PostgreSQL database, rows
and keys as they are, in foreign-key order, inside the caller's transaction on the target.

Generic over the metadata (``app.store.models``): a table added by a new migration is copied
with no line here. The rows go through PostgreSQL's ``COPY ... FROM STDIN`` (psycopg), read
from SQLite in batches of ``BATCH_ROWS``: a year of 2,000 meters (about a hundred million
rows) copies in minutes, where one INSERT per batch of rows would take hours.

A value goes across as SQLite stores it wherever PostgreSQL reads that form as the same value
(integers, text and enums, floats, JSON text, ISO dates, and times written in UTC, read with the
target session's time zone set to UTC for the copy); any other column type is read into Python
and written with SQLAlchemy's own conversions of each side. Non-deferrable foreign keys are
checked at the end of each ``COPY`` statement, so a row may name a later row of its own table
(a replaced meter, a reversed entry).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Date,
    DateTime,
    Dialect,
    Float,
    Integer,
    String,
    Table,
    TypeDecorator,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.types import TypeEngine

from app.store.database import Database, sqlite_url_for
from app.store.migrate import alembic_config, upgrade
from app.store.models import Base

BATCH_ROWS = 5_000  # rows read from SQLite at a time
PROGRESS_ROWS = 1_000_000  # a long table reports its progress after each this many rows
VERSION_TABLE = "alembic_version"

Progress = Callable[[str, int], None]
"""Called with a table's name and the rows copied of it so far (every ``PROGRESS_ROWS``)."""
Convert = Callable[[Any], Any]
NewRows = dict[str, list[tuple[Any, ...]]]
"""Table name -> the rows a database holds straight after its migrations."""

# Column kinds whose SQLite form PostgreSQL reads as the same value (see the module docstring).
_AS_STORED: tuple[type[TypeEngine[Any]], ...] = (
    Integer,
    String,  # Text and non-native Enum too
    Float,
    JSON,
    Date,
    DateTime,
    Boolean,  # SQLite keeps 0 and 1; PostgreSQL reads '0' and '1' as false and true
)


def schema_tables() -> list[Table]:
    """Every table of MeterDesk's schema, each after the tables its foreign keys name."""
    return list(Base.metadata.sorted_tables)


def tables_present(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


def unknown_tables(conn: Connection, tables: Sequence[Table]) -> list[str]:
    """Tables of the database that are not in ``tables`` (nor Alembic's version table)."""
    known = {table.name for table in tables} | {VERSION_TABLE}
    return sorted(tables_present(conn) - known)


def row_counts(conn: Connection, tables: Sequence[Table]) -> dict[str, int]:
    """Table name -> how many rows it holds, in the order of ``tables``."""
    return {
        table.name: int(conn.scalar(select(func.count()).select_from(table)) or 0)
        for table in tables
    }


def migrate_within(conn: Connection) -> None:
    """Bring the schema to the newest revision in the caller's transaction on ``conn`` (on
    PostgreSQL a rollback takes the tables away again)."""
    config = alembic_config()
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def new_database_rows(tables: Sequence[Table]) -> NewRows:
    """The rows a database holds straight after the migrations (the numbering counters start
    at 0), table by table: migrated into a temporary SQLite file, read, and thrown away."""
    with tempfile.TemporaryDirectory(prefix="meterdesk-new-schema-") as folder:
        scratch = Database(sqlite_url_for(Path(folder)))
        try:
            upgrade(scratch)
            with scratch.engine.connect() as conn:
                found = {
                    table.name: [tuple(row) for row in conn.execute(select(table))]
                    for table in tables
                }
        finally:
            scratch.dispose()
    return {name: rows for name, rows in found.items() if rows}


def tables_with_rows(conn: Connection, tables: Sequence[Table], new_rows: NewRows) -> list[str]:
    """The tables holding a row a new database does not hold (``new_database_rows``). The
    schema must be the newest (``migrate_within``)."""
    held = []
    for table in tables:
        expected = new_rows.get(table.name, [])
        rows = conn.execute(select(table).limit(len(expected) + 1)).all()
        if any(tuple(row) not in expected for row in rows):
            held.append(table.name)
    return held


def clear_tables(conn: Connection, tables: Sequence[Table]) -> None:
    """Delete every row of ``tables`` (last first): the rows the migrations wrote."""
    for table in reversed(tables):
        conn.execute(table.delete())


def copy_tables(
    source: Connection,
    target: Connection,
    tables: Sequence[Table],
    progress: Progress | None = None,
) -> dict[str, int]:
    """Copy every row of ``tables`` (in that order) from the SQLite ``source`` into the
    PostgreSQL ``target``, keys included, in the transaction open on ``target``; returns the
    rows copied per table. The tables on the target must be empty. Read ``source`` in one
    transaction of its own, so that every table is copied as of one moment."""
    raw = target.connection.driver_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError("the target of a table copy is a PostgreSQL connection through psycopg")
    target.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")  # times are stored in UTC (module doc)
    copied = {}
    for table in tables:
        copied[table.name] = _copy_table(source, target.dialect, raw, table, progress)
    return copied


def move_sequences_past_rows(conn: Connection, tables: Sequence[Table]) -> int:
    """Set every sequence of an integer column of ``tables`` (PostgreSQL's serial keys) so the
    next value is past the highest stored: new rows get fresh ids. Returns how many."""
    quote = conn.dialect.identifier_preparer
    moved = 0
    for table in tables:
        for column in table.columns:
            if not isinstance(column.type, Integer):
                continue
            sequence = conn.scalar(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": quote.format_table(table), "column": column.name},
            )
            if sequence is None:
                continue
            highest = conn.scalar(select(func.max(column)))
            conn.execute(
                text("SELECT setval(CAST(:sequence AS regclass), :next, false)"),
                {"sequence": sequence, "next": int(highest or 0) + 1},
            )
            moved += 1
    return moved


def _copy_table(
    source: Connection,
    target_dialect: Dialect,
    raw: psycopg.Connection[Any],
    table: Table,
    progress: Progress | None,
) -> int:
    columns = list(table.columns)
    read_quote = source.dialect.identifier_preparer
    write_quote = target_dialect.identifier_preparer
    keys = ", ".join(read_quote.format_column(c) for c in table.primary_key.columns)
    query = (
        f"SELECT {', '.join(read_quote.format_column(c) for c in columns)} "
        f"FROM {read_quote.format_table(table)}" + (f" ORDER BY {keys}" if keys else "")
    )
    statement = (
        f"COPY {write_quote.format_table(table)} "
        f"({', '.join(write_quote.format_column(c) for c in columns)}) FROM STDIN"
    )
    converters = [_converter(c.type, source.dialect, target_dialect) for c in columns]
    converted = [(i, convert) for i, convert in enumerate(converters) if convert is not None]
    result = source.exec_driver_sql(query)  # raw values: no conversion unless needed
    rows = 0
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        while batch := result.fetchmany(BATCH_ROWS):
            for row in batch:
                if converted:
                    values = list(row)
                    for i, convert in converted:
                        values[i] = convert(values[i])
                    copy.write_row(values)
                else:
                    copy.write_row(row)
            before, rows = rows, rows + len(batch)
            if progress is not None and rows // PROGRESS_ROWS > before // PROGRESS_ROWS:
                progress(table.name, rows)
    return rows


def _storage(kind: TypeEngine[Any], dialect: Dialect) -> TypeEngine[Any]:
    """The type a column is stored as on ``dialect`` (through any TypeDecorator)."""
    stored = kind.dialect_impl(dialect)
    while isinstance(stored, TypeDecorator):
        stored = stored.impl_instance.dialect_impl(dialect)
    return stored


def _converter(kind: TypeEngine[Any], source: Dialect, target: Dialect) -> Convert | None:
    """None when the SQLite form goes across as it is; else SQLite's value to Python to what
    the target's driver takes."""
    if isinstance(_storage(kind, source), _AS_STORED) and isinstance(
        _storage(kind, target), _AS_STORED
    ):
        return None
    read = kind.dialect_impl(source).result_processor(source, None)
    write = kind.dialect_impl(target).bind_processor(target)

    def convert(value: Any) -> Any:
        if value is None:
            return None
        if read is not None:
            value = read(value)
        return value if write is None else write(value)

    return convert
