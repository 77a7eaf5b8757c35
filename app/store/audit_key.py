"""The audit trail's secret key: a file in the data folder, never in the database.

The audit chain is sealed with HMAC-SHA256 under this key, so someone who can edit the
database but cannot read the data folder's key file cannot re-hash the chain after an edit.
The file is made on first need (32 random bytes, hex), private to the user that runs
MeterDesk (0600), and never rewritten: replacing it would make every event sealed with the
old key unverifiable. A second console of a PostgreSQL site needs a copy of the same file
(``audit.key`` from the first PC's data folder, copied once by whoever installs it).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from app.store.errors import StoreError

KEY_FILE_NAME = "audit.key"
SESSION_INFO_KEY = "meterdesk_audit_keys"
_KEY_BYTES = 32


class AuditKeyError(StoreError):
    """The audit key file is missing where the trail needs it, unreadable, or not this
    site's: nothing was written."""


class AuditKeys:
    """Where this process finds the audit key (``folder`` None: nowhere, e.g. a PostgreSQL
    handle opened without a data folder). Thread-safe: the key is read once and kept."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._key: bytes | None = None

    @property
    def path(self) -> Path | None:
        return None if self.folder is None else self.folder / KEY_FILE_NAME

    def load(self) -> bytes | None:
        """The key, or None when this process has no key file."""
        if self._key is None and self.path is not None and self.path.exists():
            self._key = _read(self.path)
        return self._key

    def load_or_create(self) -> bytes | None:
        """The key, made now if the folder has none (None: this process has no folder)."""
        path = self.path
        if path is None:
            return None
        if self.load() is None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it a moment ago
                return self.load()
            except OSError as exc:
                raise AuditKeyError(
                    f"The audit key file {path} cannot be created ({exc.strerror or exc}); "
                    "nothing was written. Fix the data folder's permissions."
                ) from exc
            text = secrets.token_hex(_KEY_BYTES) + "\n"
            try:
                os.write(handle, text.encode("ascii"))
                os.fsync(handle)
            finally:
                os.close(handle)
            self._key = bytes.fromhex(text.strip())
        return self._key


def key_id(key: bytes) -> str:
    """A short public name of a key (16 hex digits), recorded in the trail so a wrong key
    file is recognised as such; it does not reveal the key."""
    return hmac.new(key, b"meterdesk audit key id", hashlib.sha256).hexdigest()[:16]


def _read(path: Path) -> bytes:
    try:
        text = path.read_text(encoding="ascii").strip()
        if len(text) != 2 * _KEY_BYTES:
            raise ValueError(text)
        return bytes.fromhex(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not a MeterDesk audit key"
        raise AuditKeyError(
            f"The audit key file {path} cannot be read ({reason}); nothing was written. "
            "Restore it from the site's first PC or its backup; never make a new one, or the "
            "events sealed with it can no longer be checked."
        ) from exc
