"""Online backup of the SQLite database (consistent while the console runs), with the audit
trail's anchor written beside it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from app.store.database import Database

ANCHOR_SUFFIX = ".anchor.txt"


def backup_sqlite(db: Database, destination: Path) -> Path:
    """Copy the live SQLite database to ``destination`` with SQLite's backup API, and write
    the copy's audit anchor to ``<destination>.anchor.txt`` (see ``anchor_path``)."""
    if db.file_path is None:
        raise ValueError("only an SQLite file database can be backed up this way")
    destination.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(db.file_path)
    try:
        target = sqlite3.connect(destination)
        try:
            source.backup(target)
            head = _audit_head(target)
        finally:
            target.close()
    finally:
        source.close()
    if head is not None:
        write_anchor(destination, *head)
    return destination


def anchor_path(backup: Path) -> Path:
    return backup.with_name(backup.name + ANCHOR_SUFFIX)


def write_anchor(backup: Path, number: int, entry_hash: str) -> Path:
    """The anchor of a backup: the last audit event it holds, as ``ledger verify --anchor``
    takes it. Kept outside the database (and best copied off the PC with the backup), it lets
    verify prove later that the live trail still holds every event the backup had."""
    path = anchor_path(backup)
    path.write_text(
        f"{number}:{entry_hash[:12]}\n"
        f"Audit anchor of {backup.name}: its last audit event is number {number}, hash "
        f"{entry_hash}.\nCheck the live site with: main.py ledger verify --anchor "
        f"{number}:{entry_hash[:12]}\n",
        encoding="utf-8",
    )
    return path


def _audit_head(conn: sqlite3.Connection) -> tuple[int, str] | None:
    """The last audit event of a copied database (None: none, or an older schema)."""
    try:
        row = conn.execute(
            "SELECT id, entry_hash FROM audit_event ORDER BY id DESC LIMIT 1"
        ).fetchone()
    except sqlite3.DatabaseError:
        return None
    return None if row is None else (int(row[0]), str(row[1]))
