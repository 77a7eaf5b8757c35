"""Where MeterDesk's data files are: meter profiles, protocol tables, tariffs, themes, icons,
translations. The one place that knows the ``resources/`` folder; every layer asks here.

A frozen build (PyInstaller) unpacks the folder beside the program (``sys._MEIPASS``); a source
checkout keeps it at the top of the repository.
"""

from __future__ import annotations

import sys
from pathlib import Path

_BUNDLE = getattr(sys, "_MEIPASS", None)
RESOURCES = (
    Path(_BUNDLE) / "resources" if _BUNDLE else Path(__file__).resolve().parents[1] / "resources"
)


def resource_path(*parts: str) -> Path:
    """A file or folder under ``resources/``, e.g. ``resource_path("meters", "x.toml")``."""
    return RESOURCES.joinpath(*parts)
