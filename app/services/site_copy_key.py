"""Where the audit key of a site copied to PostgreSQL goes: the data folder of this PC.

On SQLite the key file sits beside the database; on PostgreSQL each PC keeps its copy in its
own data folder (``app.store.database.site_database``). The copy's trail is sealed with the
source's key, so that key must be in this PC's data folder for the new site: written there
(private, 0600, never replaced) when it is missing, and the copy refused when another key is
already there (events sealed with the source's key could not be checked with it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from app.store.audit_key import AuditKeyError, AuditKeys
from app.store.database import Database


class KeyConflict(Exception):
    """This PC's data folder holds another audit key than the source site's: nothing was
    written; the message says what to do."""


@dataclass(frozen=True)
class KeyPlan:
    """The source's key (None: its trail was never sealed) and where the copy needs it."""

    key: bytes | None
    source_path: Path | None
    target_path: Path
    present: bool  # the target path already holds this very key

    @property
    def to_write(self) -> bool:
        return self.key is not None and not self.present


def plan_key(source: Database, key_folder: Path) -> KeyPlan:
    """What to do with the source's audit key for a PostgreSQL site whose data folder on this
    PC is ``key_folder``. ``KeyConflict`` when that folder holds a different key;
    ``AuditKeyError`` when a key file cannot be read. Writes nothing."""
    key = source.audit_keys.load()
    target = AuditKeys(key_folder)
    assert target.path is not None  # a folder was given
    source_path = source.audit_keys.path
    if source_path is not None and _same_file(source_path, target.path):
        return KeyPlan(key, source_path, target.path, present=key is not None)
    if not target.path.exists():
        return KeyPlan(key, source_path, target.path, present=False)
    there = target.load()
    if there != key:
        what = "the source site has none" if key is None else "the source site's is another"
        raise KeyConflict(
            f"The data folder {key_folder} already holds an audit key ({target.path}), and "
            f"{what}: the copied trail could not be checked with it. Nothing was written. "
            "Copy into the data folder of this site (--data-dir DIR), or move that key file "
            "away if it belongs to no site any more."
        )
    return KeyPlan(key, source_path, target.path, present=True)


def place_key(plan: KeyPlan) -> None:
    """Write the key where the copy needs it (``plan.to_write``), private to this user and
    never over an existing file. ``AuditKeyError`` says why it could not be written."""
    if not plan.to_write or plan.key is None:
        return
    path = plan.target_path
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made a moment ago by another process: it must be this key
        if AuditKeys(path.parent).load() == plan.key:
            return
        raise AuditKeyError(
            f"Another audit key appeared in {path} while the site was copied; the copy's trail "
            "cannot be checked with it. Put the source's key file there instead."
        ) from None
    except OSError as exc:
        raise AuditKeyError(
            f"The audit key file {path} cannot be written ({exc.strerror or exc}). Copy "
            f"{plan.source_path} there by hand (private to the user that runs MeterDesk)."
        ) from exc
    try:
        os.write(handle, (plan.key.hex() + "\n").encode("ascii"))
        os.fsync(handle)
    finally:
        os.close(handle)


def _same_file(one: Path, other: Path) -> bool:
    if one.resolve() == other.resolve():
        return True
    try:
        return one.exists() and other.exists() and os.path.samefile(one, other)
    except OSError:
        return False
