"""What the Setup screen's pages share for files and assignments: reading and writing a TOML
file off the GUI thread (every problem of a bad file said, nothing stored), and the form that
names accounts by building and floor or by number."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QFileDialog

from app.billing.file_problems import FileProblemsError
from app.billing.tariff import TariffFileError
from app.services.setup_checks import SetupRefused, in_transaction
from app.services.tariff_library import TariffLibraryError
from app.store.database import Database
from app.views.setup_form_dialog import FieldSpec
from app.views.setup_page import SetupPage


def _t(text: str) -> str:
    return QCoreApplication.translate("SetupFiles", text)


def read_text_file(path: str) -> str:
    """A UTF-8 file's text (bytes kept: a stored tariff keeps its line endings)."""
    try:
        return Path(path).read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise SetupRefused("file", _t("{path} is not UTF-8 text.").format(path=path)) from None
    except OSError as exc:
        raise SetupRefused(
            "file", _t("{path} cannot be read: {why}.").format(path=path, why=exc.strerror)
        ) from None


def problems_refused(exc: FileProblemsError | TariffFileError | TariffLibraryError) -> SetupRefused:
    text = "\n".join(exc.lines()) if isinstance(exc, FileProblemsError) else str(exc)
    return SetupRefused("file", text)


def write_text_file(path: str, text: str) -> str:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SetupRefused(
            "file", _t("{path} cannot be written: {why}.").format(path=path, why=exc.strerror)
        ) from None
    return path


def _where_fields(buildings: list[str]) -> list[FieldSpec]:
    return [
        FieldSpec(
            "building",
            _t("Building"),
            "choice",
            [(_t("(the accounts below)"), "")] + [(b, b) for b in buildings],
        ),
        FieldSpec("floor", _t("Floor"), placeholder=_t("every floor")),
        FieldSpec(
            "accounts", _t("Accounts"), hint=_t("Account numbers, separated by spaces or commas.")
        ),
    ]


def _where(v: Mapping[str, str]) -> dict[str, Any]:
    numbers = [n for n in v["accounts"].replace(",", " ").split() if n]
    floor = v["floor"].strip()
    if floor and not floor.lstrip("-").isdigit():
        raise SetupRefused("floor", _t("The floor {floor!r} is not a number.").format(floor=floor))
    return {
        "accounts": numbers or None,
        "building": v["building"] or None,
        "floor": int(floor) if floor else None,
    }


FILE_ERRORS = (FileProblemsError, TariffFileError, TariffLibraryError)


def import_toml(
    page: SetupPage,
    title: str,
    store: Callable[[str, str], Any],
    said: Callable[[Any], str],
    path: str | None = None,
) -> None:
    """Ask for a TOML file (unless ``path``), store it with ``store(text, path)`` off the GUI
    thread; every problem of a bad file is said, and nothing is stored."""
    if path is None:
        path, _ = QFileDialog.getOpenFileName(page, title, "", _t("TOML files (*.toml)"))
    if not path:
        return
    chosen = path

    def work() -> Any:
        text = read_text_file(chosen)
        try:
            return store(text, chosen)
        except FILE_ERRORS as exc:
            raise problems_refused(exc) from None

    page.run(work, said)


def export_toml(page: SetupPage, title: str, name: str, text_of: Callable[[], str]) -> None:
    """Ask where, then write ``text_of()`` there off the GUI thread."""
    path, _ = QFileDialog.getSaveFileName(page, title, name, _t("TOML files (*.toml)"))
    if path:
        page.run(
            lambda: write_text_file(path, text_of()),
            lambda p: _t("Wrote {path}.").format(path=p),
        )


def export_chosen(page: SetupPage, title: str, text_of: Callable[[Database, str], str]) -> None:
    """Export the file of the row chosen in the table (a tariff or policy), named after it."""
    row = page.list.current_row()
    if row is not None:
        db, name = page.db, str(row.name)
        export_toml(page, title, f"{name}.toml", lambda: text_of(db, name))


def assign_form(
    page: SetupPage,
    title: str,
    subtitle: str,
    buildings: list[str],
    assign: Callable[..., list[str]],
    said: Callable[[list[str]], str],
) -> None:
    """Which accounts go onto something: a building (and floor), or account numbers."""
    db = page.db
    page.form(
        title,
        subtitle,
        _where_fields(buildings),
        lambda v: in_transaction(db, assign, page.operator(), **_where(v)),
        said,
        confirm=_t("Assign"),
    )
