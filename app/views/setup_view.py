"""The Setup screen (Ctrl+7): a guide that walks a new site through its set-up and says what
is still missing, and one page per part of the site: the site itself, buildings and rooms,
buses, meters (with scan and assign), tariffs, balance policies, the load guard, a workbook
import, operators and settings.

An empty site opens here. Each page saves through a service that checks the operator's role;
a running console takes new or retired buses and meters up within seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import QCoreApplication, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.hardware.bus_worker import BusWorker
from app.queries.site_layout import SetupStatus, SetupStep, setup_status
from app.store.database import Database
from app.ui.background import run_in_background
from app.views.form_dialog import label
from app.views.setup_field_pages import BusesPage, MetersPage
from app.views.setup_guard_page import LoadGuardPage
from app.views.setup_import_page import ImportPage
from app.views.setup_layout_pages import RoomsPage, SitePage
from app.views.setup_money_pages import PoliciesPage, TariffsPage
from app.views.setup_notice_page import NoticesPage
from app.views.setup_page import Operator, SetupPage
from app.views.setup_people_pages import OperatorsPage, SettingsPage


def _t(text: str) -> str:
    return QCoreApplication.translate("SetupView", text)


def step_texts() -> dict[str, tuple[str, str, str]]:
    """Per guide step: its title, what it is for, and the page that does it."""
    return {
        "site": (_t("The site"), _t("Name, address, time zone and currency."), "site"),
        "rooms": (
            _t("Buildings and rooms"),
            _t("Add a building, then generate its floors of rooms."),
            "rooms",
        ),
        "buses": (
            _t("Buses"),
            _t("Each RS485 adapter or gateway, with its line settings."),
            "buses",
        ),
        "meters": (
            _t("Meters"),
            _t("Scan each bus and give every meter that answers its room."),
            "meters",
        ),
        "tariffs": (_t("Tariffs"), _t("Import the price of each utility."), "tariffs"),
        "policies": (
            _t("Balance policies"),
            _t("When to warn and when to cut supply."),
            "policies",
        ),
        "load_guard": (
            _t("Load guard"),
            _t("Which heater loads trip the supply (optional)."),
            "load_guard",
        ),
        "tenants": (
            _t("Tenants"),
            _t("Open accounts from a roster (a workbook), or one by one on the Accounts screen."),
            "import",
        ),
    }


def _n(count: int, one: str, many: str) -> str:
    """``1 room`` / ``30 rooms``: one message per word (``many``), translated with its count,
    so a translation gives every plural form of its language (Qt's numerus forms); untranslated,
    the English ``one`` or ``many``. (Qt's ``%n room(s)`` would read "1 room(s)" untranslated.)"""
    text = QCoreApplication.translate("SetupView", many, "", count)
    return (one if count == 1 and text == many else text).format(n=count)


def step_note(step: SetupStep) -> str:
    """What a done step has, in words."""
    if step.key == "site":
        return step.name
    if step.key == "rooms":
        return (
            _n(step.extra, "{n} building", "{n} buildings")
            + ", "
            + _n(step.count, "{n} room", "{n} rooms")
        )
    if step.key == "meters":
        return (
            _n(step.count, "{n} meter", "{n} meters")
            + ", "
            + _t("{n} in rooms").format(n=step.extra)
        )
    words = {
        "buses": ("{n} bus", "{n} buses"),
        "tariffs": ("{n} tariff plan", "{n} tariff plans"),
        "policies": ("{n} balance policy", "{n} balance policies"),
        "load_guard": ("{n} setting", "{n} settings"),
        "tenants": ("{n} open account", "{n} open accounts"),
    }[step.key]
    return _n(step.count, *words)


class GuidePage(QWidget):
    """The checklist: each step done or not, what it has, and a button to its page."""

    open_page = Signal(str)

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.status: SetupStatus | None = None
        heading = QLabel(_t("Set up your site"))
        heading.setObjectName("pageTitle")
        self.summary = label("", "pageSubtitle")
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(14)
        self.grid.setVerticalSpacing(10)
        self.rows: dict[str, tuple[QLabel, QLabel, QPushButton]] = {}
        for n, (key, (title, purpose, page)) in enumerate(step_texts().items()):
            mark = QLabel()
            mark.setObjectName("stepMark")
            name = label(f"<b>{n + 1}. {title}</b><br>{purpose}", "stepText")
            note = label("", "stepNote")
            button = QPushButton(_t("Open"))
            button.setObjectName(f"open_{key}")
            button.clicked.connect(lambda _c=False, p=page: self.open_page.emit(p))
            self.grid.addWidget(mark, n, 0, Qt.AlignmentFlag.AlignTop)
            self.grid.addWidget(name, n, 1)
            self.grid.addWidget(note, n, 2)
            self.grid.addWidget(button, n, 3, Qt.AlignmentFlag.AlignTop)
            self.rows[key] = (mark, note, button)
        self.grid.setColumnStretch(1, 3)
        self.grid.setColumnStretch(2, 2)
        workbook = label(
            _t(
                "Or describe the whole site in one workbook (rooms, buses, meters, tenants) and "
                "import it on the Workbook page."
            ),
            "pageSubtitle",
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addWidget(heading)
        layout.addWidget(self.summary)
        layout.addSpacing(6)
        layout.addLayout(self.grid)
        layout.addSpacing(6)
        layout.addWidget(workbook)
        layout.addStretch(1)

    def reload(self) -> None:
        db = self.db
        run_in_background(lambda: setup_status(db), self.show_status, owner=self)

    def show_status(self, status: SetupStatus) -> None:
        self.status = status
        for step in status.steps:
            mark, note, _button = self.rows[step.key]
            mark.setText("✔" if step.done else "○")
            mark.setProperty("done", step.done)
            mark.style().unpolish(mark)
            mark.style().polish(mark)
            note.setText(step_note(step) if step.done else _t("not yet"))
        missing = [step_texts()[key][0] for key in status.missing]
        if not missing:
            self.summary.setText(_t("Everything is set up. The console polls and bills the site."))
        else:
            self.summary.setText(_t("Still missing: {steps}.").format(steps=", ".join(missing)))


class SetupView(QWidget):
    """``changed`` (GUI thread): something of the site was saved; other screens reload."""

    changed = Signal()

    def __init__(
        self,
        db: Database,
        operator: Operator,
        workers: Callable[[], Mapping[str, BusWorker]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.guide = GuidePage(db)
        self.pages: dict[str, QWidget] = {"guide": self.guide}
        built: list[tuple[str, str, SetupPage]] = [
            ("site", _t("Site"), SitePage(db, operator)),
            ("rooms", _t("Buildings and rooms"), RoomsPage(db, operator)),
            ("buses", _t("Buses"), BusesPage(db, operator, workers)),
            ("meters", _t("Meters"), MetersPage(db, operator)),
            ("tariffs", _t("Tariffs"), TariffsPage(db, operator)),
            ("policies", _t("Balance policies"), PoliciesPage(db, operator)),
            ("load_guard", _t("Load guard"), LoadGuardPage(db, operator)),
            ("import", _t("Workbook"), ImportPage(db, operator)),
            ("operators", _t("Operators"), OperatorsPage(db, operator)),
            ("settings", _t("Settings"), SettingsPage(db, operator)),
            ("notices", _t("Text messages"), NoticesPage(db, operator)),
        ]
        self.sections = QListWidget()
        self.sections.setObjectName("setupSections")
        self.sections.setFixedWidth(190)
        self.sections.setIconSize(QSize(16, 16))
        self.stack = QStackedWidget()
        self._keys = ["guide"]
        self.sections.addItem(QListWidgetItem(_t("Guide")))
        self.stack.addWidget(self.guide)
        for key, title, page in built:
            self.pages[key] = page
            self._keys.append(key)
            self.sections.addItem(QListWidgetItem(title))
            self.stack.addWidget(page)
            page.changed.connect(self._changed)
        self.sections.currentRowChanged.connect(self._show)
        self.guide.open_page.connect(self.open)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.sections)
        layout.addWidget(self.stack, 1)
        self.sections.setCurrentRow(0)

    def _show(self, row: int) -> None:
        self.stack.setCurrentIndex(row)
        page = self.stack.currentWidget()
        if isinstance(page, SetupPage | GuidePage):
            page.reload()

    def _changed(self) -> None:
        self.guide.reload()
        self.changed.emit()

    def open(self, key: str) -> None:
        """Show the page ``key`` ("site", "rooms", "buses"... or "guide")."""
        self.sections.setCurrentRow(self._keys.index(key))

    def page(self, key: str) -> QWidget:
        return self.pages[key]

    def reload(self) -> None:
        self._show(self.sections.currentRow())

    def focus_search(self) -> None:
        page = self.stack.currentWidget()
        if isinstance(page, SetupPage):
            page.focus_search()

    def refresh_actions(self) -> None:
        for page in self.pages.values():
            if isinstance(page, SetupPage):
                page.refresh_actions()
