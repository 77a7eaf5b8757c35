"""The Setup screen's workbook page: write an empty workbook or the site's own, choose a filled
one (an .xlsx file or a folder of CSV files), see what it would add and change and every
problem by sheet, row and column, then import it all or nothing. Tenants from a roster come in
this way (a workbook with only its tenants sheet filled)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QFileDialog, QWidget

from app.documents.site_workbook import (
    read_workbook,
    workbook_digest,
    write_template,
    write_workbook,
)
from app.documents.site_workbook_format import Workbook, WorkbookError
from app.queries.site_sheets import site_sheets
from app.services.permissions import Action
from app.services.setup_checks import SetupRefused
from app.services.site_import import ImportRefused, import_workbook, plan_import
from app.store.database import Database
from app.ui.row_table_model import Column
from app.views.setup_page import Operator, SetupPage


def _t(text: str) -> str:
    return QCoreApplication.translate("SetupImport", text)


@dataclass(frozen=True)
class _Planned:
    """A workbook whose preview can be imported as shown: where it was read, what it holds."""

    path: Path
    workbook: Workbook


@dataclass(frozen=True)
class PreviewRow:
    id: int
    kind: str  # add | change | problem | warning
    sheet: str
    row: str
    what: str
    detail: str


def _read(path: str) -> Workbook:
    try:
        return read_workbook(Path(path))
    except WorkbookError as exc:
        raise SetupRefused("file", "\n".join(str(p) for p in exc.problems)) from None


def preview_rows(plan: Any) -> list[PreviewRow]:
    """The preview: problems first, then warnings, then what each row adds or changes."""
    lines: list[tuple[str, str, str, str, str]] = [
        ("problem", p.sheet, "" if p.row is None else str(p.row), p.column or "", p.message)
        for p in plan.problems
    ]
    lines += [("warning", "", "", "", w) for w in plan.warnings]
    lines += [(c.action, c.sheet, str(c.row), c.what, c.detail) for c in plan.changes]
    return [PreviewRow(i, *line) for i, line in enumerate(lines, start=1)]


BADGES = {"problem": "bad", "warning": "warn", "add": "ok", "change": "info"}


def _written(write: Any, *args: Any) -> str:
    write(*args)
    return str(args[0])


class ImportPage(SetupPage):
    def __init__(self, db: Database, operator: Operator, parent: QWidget | None = None) -> None:
        kinds = {
            "add": _t("add"),
            "change": _t("change"),
            "problem": _t("problem"),
            "warning": _t("warning"),
        }
        columns = [
            Column(
                _t("What"),
                lambda r: kinds.get(r.kind, r.kind),
                badge=lambda r: BADGES.get(r.kind, ""),
            ),
            Column(_t("Sheet"), lambda r: r.sheet),
            Column(_t("Row"), lambda r: r.row, sort_key=lambda r: int(r.row or 0)),
            Column(_t("Item / column"), lambda r: r.what),
            Column(_t("Detail"), lambda r: r.detail, tooltip=lambda r: r.detail),
        ]
        super().__init__(
            db,
            operator,
            _t("Import a workbook"),
            _t(
                "One workbook describes the site: rooms, buses, meters and tenants (an .xlsx "
                "file, or a folder of rooms.csv, buses.csv, meters.csv, tenants.csv). Choose "
                "one to see what it adds and changes; nothing is written until you import."
            ),
            columns,
            _t("Search the preview"),
            parent,
            badges=(0,),
        )
        self.preview: list[PreviewRow] = []
        self.planned: _Planned | None = None  # None: nothing to import (none chosen, problems)
        self.action(_t("Write an empty workbook…"), self.template, None)
        self.action(_t("Export the site…"), self.export, None)
        self.action(_t("Choose workbook…"), self.choose, None, name="chooseWorkbook")
        self.import_button = self.action(
            _t("Import"), self.apply, Action.OPEN_ACCOUNT, name="importWorkbook"
        )
        self.end_actions()

    def rows(self) -> Sequence[Any]:
        return self.preview

    def search_text(self, row: Any) -> str:
        return f"{row.kind} {row.sheet} {row.what} {row.detail}"

    def refresh_actions(self) -> None:
        super().refresh_actions()
        self.import_button.setEnabled(self.import_button.isEnabled() and self.planned is not None)

    def template(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, _t("Empty workbook"), "site.xlsx", "Excel (*.xlsx)"
        )
        if path:
            self.run(
                lambda: _written(write_template, Path(path)),
                lambda p: _t("Wrote {path}: fill it, then choose it here.").format(path=p),
            )

    def export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, _t("Export the site"), "site.xlsx", "Excel (*.xlsx)"
        )
        if path:
            db = self.db
            self.run(
                lambda: _written(write_workbook, Path(path), site_sheets(db)),
                lambda p: _t("Wrote the site to {path}.").format(path=p),
            )

    def choose(self, path: str | None = None) -> None:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, _t("Choose a workbook"), "", _t("Workbooks (*.xlsx);;CSV folder (*.csv)")
            )
            if path.lower().endswith(".csv"):
                path = str(Path(path).parent)
        if not path:
            return
        db, chosen = self.db, path

        def work() -> Any:
            workbook = _read(chosen)
            return _Planned(Path(chosen), workbook), plan_import(db, workbook)

        self.run(work, self._planned)

    def _planned(self, result: Any) -> tuple[str, bool]:
        """The preview of a chosen workbook (``run`` reloads the table with it)."""
        planned, plan = result
        self.preview = preview_rows(plan)
        self.planned = planned if plan.ok and plan.changes else None
        counts = plan.counts()
        summary = "; ".join(
            _t("{sheet}: {add} to add, {change} to change, {same} unchanged").format(
                sheet=sheet, add=c["add"], change=c["change"], same=c["unchanged"]
            )
            for sheet, c in counts.items()
            if any(c.values())
        ) or _t("the workbook is empty")
        if plan.problems:
            text = _t(
                "The workbook has {n} problem(s), listed first: fix them in the workbook and "
                "choose it again. {summary}."
            ).format(n=len(plan.problems), summary=summary)
            return text, True
        if not plan.changes:
            return _t("Nothing to change: {summary}.").format(summary=summary), False
        return _t("Ready to import: {summary}.").format(summary=summary), False

    def apply(self) -> None:
        if self.planned is None:
            return
        db, who, workbook, path = self.db, self.operator(), self.planned.workbook, self.planned.path

        def work() -> Any:
            try:
                return import_workbook(
                    db, who, workbook, source=path.name, digest=workbook_digest(path)
                )
            except ImportRefused as exc:
                raise SetupRefused("file", "\n".join(str(p) for p in exc.plan.problems)) from None

        def done(result: Any) -> str:
            self.planned = None
            self.preview = []
            counts = result.plan.counts()
            return _t("Imported {path}: {summary}.").format(
                path=path.name,
                summary="; ".join(
                    _t("{sheet}: {add} added, {change} changed").format(
                        sheet=s, add=c["add"], change=c["change"]
                    )
                    for s, c in counts.items()
                    if c["add"] or c["change"]
                ),
            )

        self.run(work, done)
