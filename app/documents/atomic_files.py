"""Files written whole or not at all: written under a temporary name beside the final one, then
put in place with one rename, so a crash, a full disk or a failing writer leaves no half file.

Each writer gets a temporary name of its own (process id and a random part): two processes
saving the same file at once (two consoles printing one missing receipt) never rename each
other's half file away, and the last complete file wins.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path


def temporary_beside(final: Path) -> Path:
    """A fresh name beside ``final``: the same folder, so putting it in place is one rename."""
    return final.with_name(f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.part")


def put_in_place(path: Path, write: Callable[[Path], None]) -> None:
    """``write`` the file under a temporary name, then rename it to ``path``. Whatever
    ``write`` or the rename raises is raised; the temporary file is gone either way."""
    temporary = temporary_beside(path)
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(OSError):  # an unusable folder: the first error says so
            temporary.unlink(missing_ok=True)


def write_bytes_in_place(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Save ``data`` as ``path`` through ``put_in_place``; ``durable``: on the disk (fsync)
    before it is put in place, for a file a commit that follows relies on."""

    def write(temporary: Path) -> None:
        with temporary.open("xb") as file:
            file.write(data)
            if durable:
                file.flush()
                os.fsync(file.fileno())

    put_in_place(path, write)
