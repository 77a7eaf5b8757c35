"""Where MeterDesk keeps its database, logs, receipts and crash reports, and who may read them.

The data folder holds password hashes, tenants' names and phone numbers and every payment, so
it is private to the user who runs MeterDesk: on Linux and macOS every folder MeterDesk makes
is 0700 and every file 0600 (``private_files`` sets the process's umask at each entry, and
``make_private`` tightens a data folder that others could read). On Windows the data folder is
in the user's profile, whose access lists already keep other users out; the umask there only
touches the read-only flag, so nothing more is done.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import platformdirs

APP_NAME = "MeterDesk"
DATA_DIR_ENV = "METERDESK_DATA_DIR"
PRIVATE_UMASK = 0o077  # new folders 0700, new files 0600

log = logging.getLogger(__name__)


def default_data_dir() -> Path:
    """The data folder; ``METERDESK_DATA_DIR`` overrides it (tests, portable installs)."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def demo_data_dir() -> Path:
    """The demo site's own folder, beside (never inside the database of) the real one."""
    return default_data_dir() / "demo"


def logs_dir(data_dir: Path) -> Path:
    return data_dir / "logs"


def crash_dir(data_dir: Path) -> Path:
    return data_dir / "crashes"


def receipts_dir(data_dir: Path) -> Path:
    return data_dir / "receipts"


@contextmanager
def private_files() -> Iterator[None]:
    """Everything the process creates inside the block (database, journal, logs, receipts,
    reports, crash files, their folders) is readable by its user only; the umask before is
    given back after, so a caller in the same process (a test) keeps its own."""
    if os.name != "posix":
        yield
        return
    before = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(before)


def make_private(data_dir: Path) -> None:
    """Take group's and others' access away from an existing data folder (and say so in the
    log); what is inside is then out of their reach, whatever its own mode.

    A folder of another user, or one shared on purpose (sticky, such as /tmp), is left as it
    is, with a warning: its owner decides who reads it."""
    if os.name != "posix":
        return
    try:
        info = data_dir.stat()
    except OSError:
        return  # the caller reports a folder it cannot use
    mode = stat.S_IMODE(info.st_mode)
    if not mode & 0o077:
        return
    if info.st_uid != os.geteuid() or mode & stat.S_ISVTX:
        log.warning(
            "the data folder %s can be read by other users (mode %o) and is not this user's "
            "own to change; move the site to a private folder",
            data_dir,
            mode,
        )
        return
    try:
        data_dir.chmod(mode & 0o700)
    except OSError as exc:
        log.warning("the data folder %s could not be made private: %s", data_dir, exc)
        return
    log.info(
        "the data folder %s could be read by other users of this computer (mode %o); it is "
        "now private to its owner (mode %o)",
        data_dir,
        mode,
        mode & 0o700,
    )
