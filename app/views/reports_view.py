"""The Reports screen (Ctrl+8; office staff, supervisors and administrators): choose a report, a
period of whole days (today, yesterday, this or last week or month, or any range) and a scope
(the whole site, a building, a room or an account), make it off the GUI thread, read it as a
table with its totals and a bar chart, and save it as CSV, Excel or PDF.

The report is made by ``services.reports.run_report`` (the same as ``main.py report``) and
written by ``documents.report_export``; the file is put in place atomically in the
background. Whoever may not see reports sees why, and nothing to press."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyqtgraph as pg  # type: ignore[import-untyped]  # no stubs, no py.typed
from PySide6.QtCore import QDate, QStandardPaths, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.documents.atomic_files import put_in_place
from app.documents.report_export import EXTENSIONS, export
from app.queries.report_table import ColumnKind, ReportTable
from app.queries.reports.period import Period
from app.queries.reports.scope import Scope
from app.queries.reports.terms import CURRENT, LAST, Term, TermRefused, pick_term
from app.queries.site_layout import BuildingRow, list_buildings
from app.services.operators import SignedIn
from app.services.permissions import Action, allowed
from app.services.reports import GROUPINGS, REPORTS, run_report, scope_of
from app.services.settings import load_terms
from app.store.database import Database
from app.ui.background import run_in_background
from app.ui.report_model import ReportModel
from app.views.account_dialogs import not_allowed_note
from app.views.statement_batch_dialog import StatementBatchDialog

CHART_ROWS = 40  # bars shown at most (the PDF says the same)
PRESETS = (
    "today",
    "yesterday",
    "this_week",
    "last_week",
    "this_month",
    "last_month",
    "this_term",
    "last_term",
    "custom",
)
TERM_PRESETS = {"this_term": CURRENT, "last_term": LAST}


def preset_period(preset: str, today: date, terms: Sequence[Term] = ()) -> Period | None:
    """The period a preset names around ``today`` (None: the custom range); a term preset
    picks from the site's ``terms`` (TermRefused when there is no such term)."""
    if preset in TERM_PRESETS:
        return pick_term(terms, TERM_PRESETS[preset], today).period
    if preset == "today":
        return Period.day(today)
    if preset == "yesterday":
        return Period.day(today - timedelta(days=1))
    if preset == "this_week":
        return Period.week(today)
    if preset == "last_week":
        return Period.week(today - timedelta(days=7))
    if preset == "this_month":
        return Period.month(today.year, today.month)
    if preset == "last_month":
        first = today.replace(day=1) - timedelta(days=1)
        return Period.month(first.year, first.month)
    return None


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _day(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


class ReportsView(QWidget):
    """``made(table)`` once a report is shown; ``saved(path)`` once a file is written; both on
    the GUI thread."""

    made = Signal(object)
    saved = Signal(object)

    def __init__(
        self,
        db: Database,
        operator: Callable[[], SignedIn],
        zone: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self._db, self._operator = db, operator
        self.zone = zone  # the site's: its days are the reports' (this PC's when unknown)
        self.table: ReportTable | None = None
        self._busy = False
        self.terms: tuple[Term, ...] = ()  # the site's terms, read in the background
        self.buildings: list[BuildingRow] = []  # for the statements dialog
        self._period_problem = ""  # why the chosen preset names no period (a term missing)
        self.statements_dialog: StatementBatchDialog | None = None  # the last one opened

        title = QLabel(self.tr("Reports"))
        title.setObjectName("pageTitle")
        self.report_box = QComboBox()
        self.report_box.setObjectName("reportName")
        names = {
            "arrears": self.tr("Arrears: who owes what since when"),
            "revenue": self.tr("Revenue: takings and billing"),
            "energy": self.tr("Energy: use by room, floor, building"),
            "load-safety": self.tr("Load safety: trips, lock-outs, failed commands"),
            "loss": self.tr("Loss: building incomers against their rooms"),
            "notices": self.tr("Notices: text messages to tenants"),
            "meter-health": self.tr("Meter health: offline hours, wire faults, clock drift"),
        }
        for name in REPORTS:
            self.report_box.addItem(names.get(name, name), name)
        self.report_box.currentIndexChanged.connect(self._show_groupings)
        self.by_box = QComboBox()
        self.by_box.setObjectName("reportBy")
        self.preset_box = QComboBox()
        self.preset_box.setObjectName("reportPeriod")
        labels = (
            self.tr("Today"),
            self.tr("Yesterday"),
            self.tr("This week"),
            self.tr("Last week"),
            self.tr("This month"),
            self.tr("Last month"),
            self.tr("This term"),
            self.tr("Last term"),
            self.tr("From … to …"),
        )
        for preset, label in zip(PRESETS, labels, strict=True):
            self.preset_box.addItem(label, preset)
        self.preset_box.setCurrentIndex(PRESETS.index("this_month"))
        self.preset_box.currentIndexChanged.connect(self._preset_chosen)
        self.first_edit = self._date_edit("reportFrom")
        self.last_edit = self._date_edit("reportTo")
        self.building_box = QComboBox()
        self.building_box.setObjectName("reportBuilding")
        self.building_box.addItem(self.tr("Whole site"), "")
        self.narrow_edit = QLineEdit()
        self.narrow_edit.setObjectName("reportRoomOrAccount")
        self.narrow_edit.setPlaceholderText(self.tr("Room (A-305), account or meter"))
        self.narrow_edit.setClearButtonEnabled(True)
        self.narrow_edit.returnPressed.connect(self.make)
        self.make_button = QPushButton(self.tr("&Make report"))
        self.make_button.setObjectName("makeReport")
        self.make_button.setDefault(True)
        self.make_button.clicked.connect(self.make)

        choose = QHBoxLayout()
        choose.setSpacing(8)
        for widget in (self.report_box, self.by_box, self.preset_box):
            choose.addWidget(widget)
        choose.addWidget(self.first_edit)
        choose.addWidget(QLabel("–"))
        choose.addWidget(self.last_edit)
        choose.addStretch(1)
        narrow = QHBoxLayout()
        narrow.setSpacing(8)
        narrow.addWidget(self.building_box)
        narrow.addWidget(self.narrow_edit, 1)
        narrow.addWidget(self.make_button)

        self.status = QLabel()
        self.status.setObjectName("reportStatus")
        self.status.setWordWrap(True)
        self.model = ReportModel()
        self.view = QTableView()
        self.view.setObjectName("reportTable")
        self.view.setModel(self.model)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.chart = pg.PlotWidget()
        self.chart.setObjectName("reportChart")
        self.chart.setBackground("w")
        self.chart.setMinimumHeight(140)
        self.chart.hide()
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.view)
        split.addWidget(self.chart)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)

        self.save_buttons: dict[str, QPushButton] = {}
        save_row = QHBoxLayout()
        self.statements_button = QPushButton(self.tr("Statements for a &building…"))
        self.statements_button.setObjectName("statementsForBuilding")
        self.statements_button.setToolTip(
            self.tr("Every account's statement of a month as PDFs, and one file to print")
        )
        self.statements_button.clicked.connect(self.ask_statements)
        save_row.addWidget(self.statements_button)
        save_row.addStretch(1)
        for fmt, text in (
            ("csv", self.tr("Save CSV…")),
            ("xlsx", self.tr("Save Excel…")),
            ("pdf", self.tr("Save PDF…")),
        ):
            button = QPushButton(text)
            button.setObjectName(f"save_{fmt}")
            button.setEnabled(False)
            button.clicked.connect(lambda _checked=False, f=fmt: self.ask_save(f))
            self.save_buttons[fmt] = button
            save_row.addWidget(button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 12)
        layout.setSpacing(8)
        layout.addWidget(title)
        layout.addLayout(choose)
        layout.addLayout(narrow)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)
        layout.addLayout(save_row)
        self._show_groupings()
        self._preset_chosen()
        self.reload()

    def today(self) -> date:
        """The site's date now (a PC in another zone still offers the site's days)."""
        try:
            zone = ZoneInfo(self.zone) if self.zone else None
        except (ValueError, ZoneInfoNotFoundError):
            zone = None
        return datetime.now(zone or datetime.now().astimezone().tzinfo).date()

    def _date_edit(self, name: str) -> QDateEdit:
        edit = QDateEdit(_qdate(self.today()))
        edit.setObjectName(name)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")
        return edit

    # --- choices ----------------------------------------------------------------------------

    def focus_search(self) -> None:
        self.report_box.setFocus()

    def reload(self) -> None:
        """The buildings for the scope (off the GUI thread), and what the operator may do."""
        may = allowed(self._operator().role, Action.VIEW_REPORTS)
        self.make_button.setEnabled(may)
        self.statements_button.setEnabled(may)
        if not may:
            self.say(not_allowed_note(self._operator().role, Action.VIEW_REPORTS))
            return
        db = self._db
        run_in_background(lambda: list_buildings(db), self._show_buildings, owner=self)
        run_in_background(lambda: load_terms(db), self._show_terms, owner=self)

    def _show_terms(self, terms: tuple[Term, ...]) -> None:
        self.terms = terms
        if self.preset_box.currentData() in TERM_PRESETS:
            self._preset_chosen()

    def _show_buildings(self, buildings: list) -> None:  # type: ignore[type-arg]
        self.buildings = list(buildings)
        chosen = self.building_box.currentData()
        self.building_box.clear()
        self.building_box.addItem(self.tr("Whole site"), "")
        for building in buildings:
            self.building_box.addItem(f"{building.code} — {building.name}", building.code)
        found = self.building_box.findData(chosen)
        self.building_box.setCurrentIndex(max(found, 0))

    def _show_groupings(self) -> None:
        name = self.report_box.currentData()
        self.by_box.clear()
        groupings = GROUPINGS.get(name, ())
        for by in groupings:
            self.by_box.addItem(self.tr("by {by}").format(by=by), by)
        self.by_box.setVisible(bool(groupings))

    def _preset_chosen(self) -> None:
        preset = self.preset_box.currentData()
        self._period_problem = ""
        try:
            period = preset_period(preset, self.today(), self.terms)
        except TermRefused:
            self._period_problem = self._term_missing(preset)
            self.say(self._period_problem)
            self.first_edit.setEnabled(False)
            self.last_edit.setEnabled(False)
            return
        if preset in TERM_PRESETS and period is not None:
            name = pick_term(self.terms, TERM_PRESETS[preset], self.today()).name
            self.say(self.tr("Term {name}").format(name=name))
        custom = period is None
        self.first_edit.setEnabled(custom)
        self.last_edit.setEnabled(custom)
        if period is not None:
            self.first_edit.setDate(_qdate(period.first))
            self.last_edit.setDate(_qdate(period.last))

    def scope(self) -> Scope:
        """The scope as chosen, the narrowing box not yet looked up (see ``make``)."""
        return Scope(building=self.building_box.currentData() or None)

    def say(self, text: str) -> None:
        self.status.setText(text)

    # --- making ------------------------------------------------------------------------------

    def _term_missing(self, preset: str) -> str:
        """Why a term preset names no period, in the operator's language."""
        if not self.terms:
            return self.tr(
                "The site has no terms yet: a supervisor sets them under Settings (Terms). "
                "Choose another period."
            )
        if preset == "this_term":
            return self.tr("Today is in none of the site's terms; choose Last term or a range.")
        return self.tr("No term has ended yet; choose This term or a range.")

    def ask_statements(self) -> None:
        """Statements for a building…: the dialog writes them off the GUI thread."""
        if not allowed(self._operator().role, Action.VIEW_REPORTS):
            return
        folder = Path(
            QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
            or Path.home()
        )
        dialog = StatementBatchDialog(
            self._db,
            self._operator,
            self.buildings,
            self.today(),
            folder / "MeterDesk statements",
            self,
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.statements_dialog = dialog
        dialog.open()

    def make(self) -> None:
        if self._busy or not self.make_button.isEnabled():
            return
        if self._period_problem:
            self.say(self._period_problem)
            return
        first, last = _day(self.first_edit.date()), _day(self.last_edit.date())
        name, by = self.report_box.currentData(), self.by_box.currentData()
        scope, who, db = self.scope(), self._operator(), self._db
        narrow = self.narrow_edit.text().strip()

        def work() -> ReportTable:
            # A room, an account or a meter: what the box names is looked up with the report.
            chosen = scope_of(db, scope.building, narrow) if narrow else scope
            return run_report(db, who, name, Period(first, last), chosen, by)

        self._busy = True
        self.make_button.setEnabled(False)
        self.say(self.tr("Making the report…"))
        run_in_background(work, self._made, self._failed, owner=self)

    def _failed(self, message: str) -> None:
        self._busy = False
        self.make_button.setEnabled(True)
        self.say(self.tr("Not made: {error}").format(error=message))

    def _made(self, table: ReportTable) -> None:
        self._busy = False
        self.make_button.setEnabled(True)
        self.table = table
        self.model.show(table)
        self.view.resizeColumnsToContents()
        for button in self.save_buttons.values():
            button.setEnabled(True)
        rows = len(table.rows)
        self.say(
            self.tr("{title} · {subtitle} · {rows} row(s)").format(
                title=table.title, subtitle=table.subtitle, rows=rows
            )
        )
        self._draw_chart(table)
        self.made.emit(table)

    def _draw_chart(self, table: ReportTable) -> None:
        self.chart.clear()
        chart = table.chart
        if chart is None or not table.rows:
            self.chart.hide()
            return
        labels = [str(v) for v in table.values(chart.category)][:CHART_ROWS]
        colors = ("#2563eb", "#16a34a", "#d97706", "#9333ea")
        width = 0.8 / max(len(chart.series), 1)
        for n, key in enumerate(chart.series):
            column = table.columns[table.column(key)]
            values = table.values(key)[:CHART_ROWS]
            scale = 10**column.places if column.kind is ColumnKind.MONEY else 1
            heights = [float(v or 0) / scale for v in values]  # type: ignore[arg-type]
            xs = [i + n * width for i in range(len(heights))]
            self.chart.addItem(
                pg.BarGraphItem(x=xs, height=heights, width=width, brush=colors[n % 4])
            )
        axis = self.chart.getAxis("bottom")
        if table.columns[table.column(chart.category)].kind is ColumnKind.DATE:
            labels = [label[5:] for label in labels]  # 2026-11-21 -> 11-21: the year is above
        width_px = max(self.chart.width(), 400)
        widest = max((len(label) for label in labels), default=1) * 8 + 12
        step = max(1, -(-len(labels) * widest // width_px))  # as many as fit side by side
        axis.setTicks([[(i, labels[i]) for i in range(0, len(labels), step)]])
        self.chart.setTitle(chart.title or None)
        self.chart.show()

    # --- saving ------------------------------------------------------------------------------

    def ask_save(self, fmt: str) -> None:
        table = self.table
        if table is None:
            return
        suggested = f"{table.name}-{table.title.split(', ')[-1]}".replace(" ", "-")
        path, _filter = QFileDialog.getSaveFileName(
            self,
            self.tr("Save the report"),
            suggested + EXTENSIONS[fmt],
            f"{fmt.upper()} (*{EXTENSIONS[fmt]})",
        )
        if path:
            self.save_to(Path(path), fmt)

    def save_to(self, path: Path, fmt: str) -> None:
        """Write the report shown to ``path`` as ``fmt`` (off the GUI thread)."""
        table = self.table
        if table is None:
            return
        if path.suffix.lower() != EXTENSIONS[fmt]:
            path = path.with_name(path.name + EXTENSIONS[fmt])

        def work() -> Path:
            data = export(table, fmt)

            def write(temporary: Path) -> None:
                temporary.write_bytes(data)

            put_in_place(path, write)
            return path

        self.say(self.tr("Saving {path}…").format(path=path))
        run_in_background(work, self._saved, self._failed_save, owner=self)

    def _saved(self, path: Path) -> None:
        self.say(self.tr("Saved {path}").format(path=path))
        self.saved.emit(path)

    def _failed_save(self, message: str) -> None:
        self.say(self.tr("Not saved: {error}. Choose another folder.").format(error=message))
