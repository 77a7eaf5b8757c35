"""Where MeterDesk keeps its database, logs, receipts and crash reports."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "MeterDesk"
DATA_DIR_ENV = "METERDESK_DATA_DIR"


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
