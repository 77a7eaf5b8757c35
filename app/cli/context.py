"""Resolve the data folder and database from the options, and open the database safely."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from app.process.data_dir import default_data_dir, demo_data_dir
from app.process.logging_setup import setup_logging
from app.store.database import Database, ensure_writable_dir, sqlite_url_for

T = TypeVar("T")


def data_dir_of(args: argparse.Namespace, *, demo: bool = False) -> Path:
    if getattr(args, "data_dir", None):
        return Path(args.data_dir).expanduser().resolve()
    return demo_data_dir() if demo else default_data_dir()


def open_database(args: argparse.Namespace, data_dir: Path) -> Database:
    """Prepare the data folder (writable, logging) and open the database handle.

    Raises ``StoreError`` subclasses with messages for the operator; touches no data.
    """
    ensure_writable_dir(data_dir)
    setup_logging(data_dir, console_level=logging.ERROR)
    url = args.db or sqlite_url_for(data_dir)
    db = Database(url)
    db.check_readable()
    return db


def run_on_database(
    args: argparse.Namespace, work: Callable[[Database], T], *, demo: bool | None = None
) -> tuple[Database, T]:
    """Open the database the options name (``demo``: the demo folder unless --data-dir; None
    reads ``args.demo``), run ``work`` on it and close it. StoreError explains any failure."""
    use_demo = bool(getattr(args, "demo", False)) if demo is None else demo
    db = open_database(args, data_dir_of(args, demo=use_demo))
    try:
        return db, work(db)
    finally:
        db.dispose()


def fail(message: str, code: int) -> int:
    """Print one clear line to stderr and return the exit code."""
    one_line = " ".join(message.split())  # driver messages (libpq) carry newlines and tabs
    print(f"error: {one_line}", file=sys.stderr)
    return code
