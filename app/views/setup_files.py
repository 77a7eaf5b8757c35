"""What the Setup screen's pages share for files and assignments: reading and writing a TOML
file off the GUI thread (every problem of a bad file said, nothing stored), a form's first
problem said under its field, and the form that names accounts by building and floor or by
number."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QFileDialog

from app.billing.file_problems import FileProblemsError
from app.billing.tariff import TariffFileError
from app.input_limits import read_limited_text
from app.queries.site_layout import list_buildings
from app.services.setup_checks import SetupRefused, in_transaction
from app.services.tariff_library import TariffLibraryError
from app.store.database import Database
from app.views.setup_form_dialog import FieldSpec
from app.views.setup_page import SetupPage


def _t(text: str) -> str:
    return QCoreApplication.translate("SetupFiles", text)


def read_text_file(path: str) -> str:
    """A UTF-8 file's text (line endings kept: a stored tariff keeps them; a byte-order mark
    dropped), refused when it is not a regular file of at most ``MAX_FILE_BYTES``."""
    try:
        return read_limited_text(path)  # a regular file of bounded size, never a FIFO
    except UnicodeDecodeError:
        raise SetupRefused("file", _t("{path} is not UTF-8 text.").format(path=path)) from None
    except OSError as exc:
        raise SetupRefused(
            "file", _t("{path} cannot be read: {why}.").format(path=path, why=exc.strerror)
        ) from None


def problems_refused(exc: FileProblemsError | TariffFileError | TariffLibraryError) -> SetupRefused:
    text = "\n".join(exc.lines()) if isinstance(exc, FileProblemsError) else str(exc)
    return SetupRefused("file", text)


def first_problem_refused(exc: FileProblemsError) -> SetupRefused:
    """A form's first problem, said under its field (``bands[2].to_w`` is the bands field)."""
    key, message = exc.pairs()[0]
    return SetupRefused(key.split("[")[0], message)


def write_text_file(path: str, text: str) -> str:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SetupRefused(
            "file", _t("{path} cannot be written: {why}.").format(path=path, why=exc.strerror)
        ) from None
    return path


def _where_fields(buildings: Sequence[str]) -> list[FieldSpec]:
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
    store: Callable[..., Any],
    said: Callable[[Any], str],
    path: str | None = None,
) -> None:
    """Ask for a TOML file (unless ``path``), store it off the GUI thread with the service
    ``store(session, who, text, path)`` in a transaction of its own (``who``: the operator
    now); every problem of a bad file is said, and nothing is stored."""
    if path is None:
        path, _ = QFileDialog.getOpenFileName(page, title, "", _t("TOML files (*.toml)"))
    if not path:
        return
    db, who, chosen = page.db, page.operator(), path

    def work() -> Any:
        text = read_text_file(chosen)
        try:
            return in_transaction(db, store, who, text, chosen)
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


class BuildingsPage(SetupPage):
    """A page whose forms offer the site's buildings (read just before a form opens)."""

    buildings: Sequence[str] = ()

    def choices(self) -> Any:
        return [b.name for b in list_buildings(self.db)]

    def take_choices(self, choices: Any) -> None:
        self.buildings = choices


def assign_form(
    page: BuildingsPage,
    assign: Callable[..., list[str]],
    name: str,
    title: str,
    subtitle: str,
    said: Callable[[list[str]], str],
) -> None:
    """Which accounts go onto ``name`` (a plan, a policy): a building (and floor), or account
    numbers; saved by the service ``assign(session, who, name, accounts=, building=,
    floor=)``."""
    db = page.db
    page.form(
        title,
        subtitle,
        _where_fields(page.buildings),
        lambda v, who: in_transaction(db, assign, who, name, **_where(v)),
        said,
        confirm=_t("Assign"),
    )
