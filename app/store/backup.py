"""Online backup of the SQLite database (consistent while the console runs)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from app.store.database import Database


def backup_sqlite(db: Database, destination: Path) -> Path:
    """Copy the live SQLite database to ``destination`` with SQLite's backup API."""
    if db.file_path is None:
        raise ValueError("only an SQLite file database can be backed up this way")
    destination.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(db.file_path)
    try:
        target = sqlite3.connect(destination)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()
    return destination
