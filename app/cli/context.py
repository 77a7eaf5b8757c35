"""Resolve the data folder and database from the options, and open the database safely.

Commands that only read or change an existing site never create anything: on a data folder
with no database they say so (exit 8) and leave the folder as it was. The commands that start
a site (``operator first-admin``, ``site init``, ``db upgrade``, ``demo seed``) pass
``create=True``: they make the folder and the schema themselves.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from app.process.data_dir import default_data_dir, demo_data_dir, make_private
from app.process.logging_setup import setup_logging
from app.store.database import Database, ensure_writable_dir, site_database
from app.store.errors import NoDatabase, check_database_url
from app.store.failures import explained
from app.vocabulary import ExitCode

T = TypeVar("T")


def data_dir_of(args: argparse.Namespace, *, demo: bool | None = False) -> Path:
    """--data-dir, else the user data folder (``demo``: its demo subfolder; None reads
    ``args.demo``)."""
    if getattr(args, "data_dir", None):
        return Path(args.data_dir).expanduser().resolve()
    use_demo = bool(getattr(args, "demo", False)) if demo is None else demo
    return demo_data_dir() if use_demo else default_data_dir()


def database_of(args: argparse.Namespace, data_dir: Path) -> Database:
    """A handle on the database the options name: --db, else SQLite in ``data_dir``. It
    connects to nothing until it is used; the caller disposes of it."""
    check_database_url(getattr(args, "db", None))
    return site_database(getattr(args, "db", None), data_dir)


def open_database(args: argparse.Namespace, data_dir: Path, *, create: bool = False) -> Database:
    """Prepare the data folder (writable, logging) and open the database handle.

    Without ``create``, a SQLite file that does not exist raises ``NoDatabase`` and nothing
    is made. Raises ``StoreError`` subclasses with messages for the operator; touches no data.
    """
    db = database_of(args, data_dir)
    if not create and db.file_path is not None and not db.file_path.exists():
        db.dispose()
        where = db.file_path.parent if getattr(args, "db", None) is None else db.file_path
        raise NoDatabase(
            f"There is no MeterDesk database in {where} yet; nothing was created. Set up a "
            "site first ('main.py operator first-admin' then 'main.py site init'), or name the "
            "site's database with --data-dir or --db."
        )
    ensure_writable_dir(data_dir)
    setup_logging(data_dir, console_level=logging.ERROR)
    make_private(data_dir)
    db.check_readable()
    return db


def run_on_database(
    args: argparse.Namespace,
    work: Callable[[Database], T],
    *,
    demo: bool | None = None,
    create: bool = False,
) -> tuple[Database, T]:
    """Open the database the options name (``demo``: the demo folder unless --data-dir; None
    reads ``args.demo``), run ``work`` on it and close it. StoreError explains any failure."""
    db = open_database(args, data_dir_of(args, demo=demo), create=create)
    try:
        with explained(db):  # a full disk or a busy database: a StoreError that says so
            return db, work(db)
    finally:
        db.dispose()


def fail(message: str, code: int) -> int:
    """Print one clear line to stderr and return the exit code."""
    one_line = " ".join(message.split())  # driver messages (libpq) carry newlines and tabs
    print(f"error: {one_line}", file=sys.stderr)
    return code


def report_problems(lines: Iterable[object], code: int = ExitCode.REFUSED) -> int:
    """Print one ``error:`` line per problem (each as its text) to stderr; return the exit
    code."""
    for line in lines:
        print(f"error: {line}", file=sys.stderr)
    return code


def read_utf8(path: str) -> str:
    """The text of a UTF-8 file exactly as stored (read as bytes, so its line endings stay).
    ``OSError`` or ``UnicodeDecodeError`` when it cannot be read: ``unreadable_reason`` says
    why."""
    return Path(path).read_bytes().decode("utf-8")


def unreadable_reason(exc: OSError | UnicodeDecodeError) -> str:
    """Why a file cannot be read or written, in a few words for an ``error:`` line."""
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return exc.strerror or str(exc)
