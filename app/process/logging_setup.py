"""Logging to a rotating file in the data folder (and warnings to stderr for the CLI)."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from app.process.data_dir import logs_dir

LOG_FILE_NAME = "meterdesk.log"
_FORMAT = "%(asctime)s %(levelname)-7s [%(threadName)s] %(name)s: %(message)s"


def setup_logging(data_dir: Path, *, console_level: int = logging.WARNING) -> Path:
    """Log INFO and above to ``<data dir>/logs/meterdesk.log`` (5 files of 5 MB).

    Returns the log file's path. Safe to call more than once: old handlers are replaced.
    """
    folder = logs_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_FILE_NAME
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_meterdesk", False):
            root.removeHandler(handler)
            handler.close()
    file_handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=5 * 1024 * 1024, backupCount=5, encoding="utf-8"
    )
    file_handler.setFormatter(logging.Formatter(_FORMAT))
    file_handler.setLevel(logging.INFO)
    file_handler._meterdesk = True  # type: ignore[attr-defined]
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    console.setLevel(console_level)
    console._meterdesk = True  # type: ignore[attr-defined]
    root.addHandler(file_handler)
    root.addHandler(console)
    root.setLevel(logging.INFO)
    return path
