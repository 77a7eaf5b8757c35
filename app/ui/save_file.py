"""Ask where to save, then write the file off the GUI thread (CSV exports of charts, history and
the frame log). A long export never freezes the window; what happened is said in the screen's
status line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QFileDialog, QWidget

from app.ui.background import run_in_background


def _t(text: str) -> str:
    return QCoreApplication.translate("save_file", text)


def save_in_background(
    owner: QWidget,
    title: str,
    suggested: str,
    write: Callable[[Path], int],
    say: Callable[[str], None],
    saved: str,
) -> None:
    """Ask for a file name (``suggested`` first), then run ``write(path)`` in the background
    pool. ``write`` must not touch widgets: take what it needs on the GUI thread first. ``say``
    gets "Saving…", then ``saved`` (with ``{n}``, what ``write`` returned, and ``{path}``) or why
    nothing was saved."""
    name, _ = QFileDialog.getSaveFileName(owner, title, suggested, _t("CSV files (*.csv)"))
    if not name:
        return
    path = Path(name)

    def work() -> int | str:
        try:
            return write(path)
        except OSError as exc:
            return _t("Not saved: {error}").format(error=exc.strerror or exc)

    def done(result: int | str) -> None:
        say(result if isinstance(result, str) else saved.format(n=result, path=name))

    say(_t("Saving to {path}…").format(path=name))
    run_in_background(
        work, done, lambda error: say(_t("Not saved: {error}").format(error=error)), owner=owner
    )
