"""The main window: navigation rail, the screens, and the status bar."""

from __future__ import annotations

from PySide6.QtCore import QDateTime, QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.services.site_queries import SiteInfo
from app.store.database import Database
from app.ui.background import wait_for_background
from app.ui.theme import icon
from app.views.accounts_view import AccountsView
from app.views.meters_view import MetersView


class MainWindow(QMainWindow):
    def __init__(self, db: Database, site: SiteInfo, *, demo: bool = False) -> None:
        super().__init__()
        self._db = db
        title = self.tr("MeterDesk — {site}").format(site=site.name)
        self.setWindowTitle(title + (self.tr(" (demo)") if demo else ""))
        self.resize(1400, 860)
        self.setMinimumSize(QSize(1000, 640))

        self.accounts = AccountsView(db, site.currency)
        self.meters = MetersView(db)
        self.pages: list[tuple[str, str, QWidget]] = [
            ("accounts", self.tr("Accounts"), self.accounts),
            ("meters", self.tr("Meters"), self.meters),
        ]

        self.rail = QListWidget()
        self.rail.setObjectName("navRail")
        self.rail.setIconSize(QSize(24, 24))
        self.rail.setFixedWidth(168)
        self.rail.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.stack = QStackedWidget()
        for number, (key, label, page) in enumerate(self.pages, start=1):
            item = QListWidgetItem(icon(key), label)
            item.setToolTip(self.tr("{label} (Ctrl+{n})").format(label=label, n=number))
            self.rail.addItem(item)
            self.stack.addWidget(page)
            shortcut = QShortcut(QKeySequence(f"Ctrl+{number}"), self)
            shortcut.activated.connect(lambda n=number - 1: self.show_page(n))
        self.rail.currentRowChanged.connect(self.stack.setCurrentIndex)

        brand = QLabel("⚡ MeterDesk")
        brand.setObjectName("railBrand")
        rail_box = QVBoxLayout()
        rail_box.setContentsMargins(0, 0, 0, 0)
        rail_box.setSpacing(0)
        rail_box.addWidget(brand)
        rail_box.addWidget(self.rail, 1)
        rail_widget = QWidget()
        rail_widget.setLayout(rail_box)
        rail_widget.setFixedWidth(168)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(rail_widget)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        QShortcut(QKeySequence.StandardKey.Find, self).activated.connect(self.focus_search)
        QShortcut(QKeySequence.StandardKey.Refresh, self).activated.connect(self.reload)

        self.site_label = QLabel(site.name + (self.tr(" · demo site") if demo else ""))
        self.db_label = QLabel(self.tr("Database: {where}").format(where=db.display_name))
        self.counts_label = QLabel(self.tr("Loading…"))
        self.clock_label = QLabel()
        status = self.statusBar()
        status.addWidget(self.site_label)
        status.addWidget(self.db_label, 1)
        status.addPermanentWidget(self.counts_label)
        status.addPermanentWidget(self.clock_label)
        self._counts = {"accounts": 0, "meters": 0}
        self.accounts.rows_loaded.connect(lambda n: self._count("accounts", n))
        self.meters.rows_loaded.connect(lambda n: self._count("meters", n))
        self._clock = QTimer(self)
        self._clock.timeout.connect(self._tick)
        self._clock.start(1000)
        self._tick()
        self.rail.setCurrentRow(0)

    def show_page(self, number: int) -> None:
        self.rail.setCurrentRow(number)
        self.focus_search()

    def focus_search(self) -> None:
        page = self.stack.currentWidget()
        if isinstance(page, AccountsView | MetersView):
            page.focus_search()

    def reload(self) -> None:
        self.accounts.reload()
        self.meters.reload()

    @property
    def loaded_counts(self) -> dict[str, int]:
        return dict(self._counts)

    def _count(self, key: str, value: int) -> None:
        self._counts[key] = value
        self.counts_label.setText(
            self.tr("{accounts} accounts · {meters} meters").format(**self._counts)
        )

    def _tick(self) -> None:
        self.clock_label.setText(QDateTime.currentDateTime().toString("yyyy-MM-dd HH:mm:ss"))

    def closeEvent(self, event: QCloseEvent) -> None:
        self._clock.stop()
        wait_for_background()
        super().closeEvent(event)
