"""The main window: navigation rail, the screens, and the status bar.

Given the console's change bridge (``changes``), the screens follow what is committed to the
site's database by any process: the alarm count, the alarm list, the overview, the chosen
account at the counter and on the Accounts screen, and an open meter detail are read again
when what they show changed. Without one, they are read when shown and on F5."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QDateTime, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.hardware.bus_worker import BusWorker
from app.queries.alarms import critical_active_count
from app.queries.site_facts import SiteInfo, site_info
from app.queries.site_layout import SetupStatus, setup_status
from app.runtime.runtime import Runtime
from app.services.operators import SignedIn
from app.services.permissions import Action, allowed
from app.store.database import Database
from app.ui.alarm_badge import AlarmBadge
from app.ui.background import run_in_background, wait_for_background
from app.ui.change_bridge import ChangeBridge
from app.ui.screen_fit import ElidedLabel, restore_on_screen, save_on_screen, scrolling
from app.ui.theme import icon
from app.views.account_dialogs import not_allowed_note
from app.views.accounts_view import AccountsView
from app.views.alarms_view import AlarmsView
from app.views.charts_view import ChartsView
from app.views.counter_view import CounterView
from app.views.diagnostics_dialog import DiagnosticsDialog
from app.views.login_dialog import LoginDialog, role_label
from app.views.meter_detail_dialog import MeterDetailDialog
from app.views.meters_view import MetersView
from app.views.overview_view import OverviewView
from app.views.owner_status import OwnerStatus
from app.views.reports_view import ReportsView
from app.views.setup_view import SetupView


class PageStack(QStackedWidget):
    """The screens, asking only for the room the shown one needs: a stacked widget's own
    minimum is that of its widest page (Charts), which would hold every screen wider than a
    1280x720 counter PC. A screen wider than the window scrolls (the scroll area around)."""

    def __init__(self) -> None:
        super().__init__()
        self.currentChanged.connect(lambda _index: self.updateGeometry())

    def sizeHint(self) -> QSize:
        page = self.currentWidget()
        return page.sizeHint() if page is not None else super().sizeHint()

    def minimumSizeHint(self) -> QSize:
        page = self.currentWidget()
        return page.minimumSizeHint() if page is not None else super().minimumSizeHint()


class MainWindow(QMainWindow):
    """The console for one signed-in operator (``operator``); ``lock()`` hides it behind the
    sign-in dialog until that operator or another one signs in."""

    # The SignedIn of a different person who signed in on the lock screen (GUI thread).
    operator_changed = Signal(object)
    # True when the lock screen goes up, False when someone has signed in on it.
    lock_changed = Signal(bool)

    # An account's money changed here (a recharge): the runtime re-evaluates its supply.
    account_changed = Signal(int)

    def __init__(
        self,
        db: Database,
        site: SiteInfo,
        *,
        operator: SignedIn,
        data_dir: Path,
        demo_password: str | None = None,
        changes: ChangeBridge | None = None,
    ) -> None:
        super().__init__()
        self._db = db
        self.changes = changes  # started and stopped by its owner (the composition root)
        self._operator = operator
        self._runtime: Runtime | None = None
        self._site_name = site.name
        self._currency = site.currency
        self._demo_password = demo_password  # the demo site: the sign-in shows it
        demo = demo_password is not None
        self.lock_dialog: LoginDialog | None = None
        self._focus_before_lock: QWidget | None = None
        title = self.tr("MeterDesk — {site}").format(site=site.name)
        self.setWindowTitle(title + (self.tr(" (demo)") if demo else ""))
        # No fixed size: the composition root places it on its screen (place_on_screen), and
        # a counter PC may have only 1280x720 (or 1920x1080 at 150 %).
        self._settings: QSettings | None = None

        self.counter = CounterView(db, site.currency, data_dir, lambda: self._operator)
        self.counter.recharged.connect(
            lambda account_id, _cut: self.account_changed.emit(account_id)
        )
        self.accounts = AccountsView(
            db, site.currency, operator=lambda: self._operator, data_dir=data_dir
        )
        self.meters = MetersView(
            db, operator=lambda: self._operator, commands=lambda: self._runtime
        )
        self.alarms = AlarmsView(db, lambda: self._operator)
        self.overview = OverviewView(db, site.currency)
        self.overview.account_requested.connect(self.show_room_account)
        self.overview.meter_requested.connect(self.open_meter)
        # Enter on the Meters screen opens a detail (MetersView connected it first).
        self.meters.list.table.activated.connect(
            lambda _index: self._follow_detail(self.meters.detail_dialog)
        )
        self.charts = ChartsView(db)
        self.setup = SetupView(db, lambda: self._operator, self._workers)
        self.setup.changed.connect(self._site_changed)
        self.reports = ReportsView(db, lambda: self._operator, site.timezone)
        self.pages: list[tuple[str, str, QWidget]] = [
            ("counter", self.tr("Counter"), self.counter),
            ("accounts", self.tr("Accounts"), self.accounts),
            ("meters", self.tr("Meters"), self.meters),
            ("alarms", self.tr("Alarms"), self.alarms),
            ("overview", self.tr("Overview"), self.overview),
            ("charts", self.tr("Charts"), self.charts),
            ("setup", self.tr("Setup"), self.setup),
            ("reports", self.tr("Reports"), self.reports),
        ]

        self.rail = QListWidget()
        self.rail.setObjectName("navRail")
        self.rail.setIconSize(QSize(24, 24))
        self.rail.setFixedWidth(168)
        self.rail.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.stack = PageStack()
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
        self.diagnostics_button = QToolButton()
        self.diagnostics_button.setObjectName("railTool")
        self.diagnostics_button.setIcon(icon("diagnostics"))
        self.diagnostics_button.setIconSize(QSize(20, 20))
        self.diagnostics_button.setText(self.tr("Diagnostics…"))
        self.diagnostics_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.diagnostics_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.diagnostics_button.setSizePolicy(
            QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed
        )
        self.diagnostics_button.clicked.connect(self.open_diagnostics)
        rail_box.addWidget(self.diagnostics_button)
        self.diagnostics_dialog: DiagnosticsDialog | None = None
        rail_widget = QWidget()
        rail_widget.setLayout(rail_box)
        rail_widget.setFixedWidth(168)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(rail_widget)
        layout.addWidget(scrolling(self.stack), 1)
        self.setCentralWidget(central)

        QShortcut(QKeySequence.StandardKey.Find, self).activated.connect(self.focus_search)
        QShortcut(QKeySequence.StandardKey.Refresh, self).activated.connect(self.reload)
        QShortcut(QKeySequence("Ctrl+L"), self).activated.connect(self.lock)
        QShortcut(QKeySequence("Ctrl+Shift+D"), self).activated.connect(self.open_diagnostics)

        # Status texts elide (the whole text in the tooltip) where a narrow screen has no
        # room for them all, instead of being cut off mid-word.
        self.site_label = ElidedLabel(site.name + (self.tr(" · demo site") if demo else ""))
        self.db_label = ElidedLabel(self.tr("Database: {where}").format(where=db.display_name))
        self.counts_label = ElidedLabel(self.tr("Loading…"))
        self.clock_label = QLabel()
        self.operator_label = ElidedLabel()
        self.lock_button = QToolButton()
        self.lock_button.setText(self.tr("Lock"))
        self.lock_button.setToolTip(self.tr("Lock the console (Ctrl+L)"))
        self.lock_button.setAutoRaise(True)
        self.lock_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.lock_button.clicked.connect(self.lock)
        self._show_operator()
        status = self.statusBar()
        status.addWidget(self.site_label)
        status.addWidget(self.db_label, 1)
        self.alarm_badge = AlarmBadge()
        self.alarm_badge.setToolTip(
            self.tr("Active critical alarms: open the Alarms screen (Ctrl+4)")
        )
        self.owner_status = OwnerStatus()
        status.addPermanentWidget(self.owner_status)
        status.addPermanentWidget(self.alarm_badge)
        status.addPermanentWidget(self.operator_label)
        status.addPermanentWidget(self.lock_button)
        status.addPermanentWidget(self.counts_label)
        status.addPermanentWidget(self.clock_label)
        self._counts = {"accounts": 0, "meters": 0}
        self.accounts.rows_loaded.connect(lambda n: self._count("accounts", n))
        self.meters.rows_loaded.connect(lambda n: self._count("meters", n))
        self._clock = QTimer(self)
        self._clock.timeout.connect(self._tick)
        self._clock.start(1000)
        if changes is not None:
            self._follow(changes)
        self.count_alarms()
        self._tick()
        self.rail.setCurrentRow(0)

    def _follow(self, changes: ChangeBridge) -> None:
        """The screens read again what the change bridge says changed."""
        changes.alarms_changed.connect(self.count_alarms)
        changes.everything_changed.connect(self._caught_up)
        self.alarms.follow_changes(changes)
        self.overview.follow_changes(changes)
        self.accounts.follow_changes(changes)
        self.counter.follow_changes(changes)

    def _caught_up(self) -> None:
        """The change feed was interrupted: the lists no kind of change covers are read again
        (the others follow the bridge's per-kind signals, which said "any")."""
        self.counter.reload()
        self.accounts.reload()
        self.meters.reload()

    def open_meter(self, meter_id: int) -> MeterDetailDialog | None:
        """The detail of a meter (from the overview), following the change bridge."""
        dialog = self.meters.open_detail(meter_id)
        self._follow_detail(dialog)
        return dialog

    def _follow_detail(self, dialog: MeterDetailDialog | None) -> None:
        if dialog is not None and self.changes is not None:
            dialog.follow_changes(self.changes)

    @property
    def operator(self) -> SignedIn:
        """Who is signed in at this console now."""
        return self._operator

    @property
    def is_locked(self) -> bool:
        return self.lock_dialog is not None

    def lock(self) -> None:
        """Hide the screens behind the lock screen (modal, returns at once). Signing in there
        unlocks; a different person becomes the operator and ``operator_changed`` says so."""
        if self.lock_dialog is not None:
            return
        self._focus_before_lock = self.focusWidget()
        dialog = LoginDialog(
            self._db,
            self._site_name,
            demo_password=self._demo_password,
            locked=self._operator,
            parent=self,
        )
        dialog.setWindowModality(Qt.WindowModality.ApplicationModal)
        dialog.accepted.connect(self._unlocked)
        self.lock_dialog = dialog
        central = self.centralWidget()
        if central is not None:
            central.hide()  # balances and names stay out of sight of the queue
        self.lock_changed.emit(True)
        dialog.show()

    def _unlocked(self) -> None:
        dialog = self.lock_dialog
        if dialog is None:
            return
        self.lock_dialog = None
        who = dialog.signed_in
        dialog.deleteLater()
        central = self.centralWidget()
        if central is not None:
            central.show()
        changed = who is not None and who.operator_id != self._operator.operator_id
        if who is not None:
            self._operator = who
            self._show_operator()
        self.activateWindow()
        before, self._focus_before_lock = self._focus_before_lock, None
        try:
            if before is not None and before.isVisible():
                before.setFocus(Qt.FocusReason.OtherFocusReason)
            else:
                self.focus_search()
        except RuntimeError:  # that widget was deleted while the console was locked
            self.focus_search()
        self.lock_changed.emit(False)
        if changed:
            self.counter.reload()  # the new cashier's name and shift
            self.accounts.refresh_actions()  # what the new person may do
            self.setup.refresh_actions()
            self.reports.reload()
            self.operator_changed.emit(who)

    def _show_operator(self) -> None:
        may = allowed(self._operator.role, Action.DIAGNOSTICS)
        self.diagnostics_button.setEnabled(may)
        self.diagnostics_button.setToolTip(
            self.tr("Bus diagnostics: scan, frames, counters, meter tests (Ctrl+Shift+D)")
            if may
            else not_allowed_note(self._operator.role, Action.DIAGNOSTICS)
        )
        self.operator_label.setText(
            self.tr("Signed in: {name} ({role})").format(
                name=self._operator.display_name, role=role_label(self._operator.role)
            )
        )

    def show_page(self, number: int) -> None:
        self.rail.setCurrentRow(number)
        self.focus_search()

    def focus_search(self) -> None:
        page = self.stack.currentWidget()
        if isinstance(
            page,
            CounterView
            | AccountsView
            | MetersView
            | AlarmsView
            | OverviewView
            | ChartsView
            | SetupView
            | ReportsView,
        ):
            page.focus_search()

    def attach_runtime(self, runtime: Runtime) -> None:
        """The runtime has started (beside the window): its live power feeds the overview."""
        self._runtime = runtime
        self.overview.attach_live(runtime.live)
        self.charts.attach_live(runtime.live)
        self.owner_status.watch(runtime)

    def open_diagnostics(self) -> None:
        """The technicians' dialog (one at a time); it uses the runtime's bus workers for
        the buses being polled and opens other ports itself."""
        if not allowed(self._operator.role, Action.DIAGNOSTICS):
            return
        if self.diagnostics_dialog is not None and self.diagnostics_dialog.isVisible():
            self.diagnostics_dialog.raise_()
            self.diagnostics_dialog.activateWindow()
            return

        dialog = DiagnosticsDialog(self._db, lambda: self._operator, self._workers, self)
        dialog.finished.connect(dialog.deleteLater)
        dialog.destroyed.connect(lambda *_: setattr(self, "diagnostics_dialog", None))
        self.diagnostics_dialog = dialog
        dialog.open()

    def _workers(self) -> dict[str, BusWorker]:
        """The running console's bus workers by bus name (one port, one owner)."""
        runtime = self._runtime
        return {} if runtime is None else {w.name: w for w in runtime.workers}

    def _site_changed(self) -> None:
        """Something of the site was saved on the Setup screen: the other screens reload,
        and a new site's name and currency take effect."""
        db = self._db
        run_in_background(lambda: site_info(db), self._show_site, owner=self)
        for page in (self.counter, self.accounts, self.meters, self.alarms):
            page.reload()

    def _show_site(self, site: SiteInfo | None) -> None:
        if site is None:
            return
        if site.name != self._site_name:
            self._site_name = site.name
            demo = self._demo_password is not None
            title = self.tr("MeterDesk — {site}").format(site=site.name)
            self.setWindowTitle(title + (self.tr(" (demo)") if demo else ""))
            self.site_label.setText(site.name + (self.tr(" · demo site") if demo else ""))
        self.reports.zone = site.timezone
        if site.currency != self._currency:
            self._currency = site.currency
            self.counter.set_currency(site.currency)
            self.accounts.set_currency(site.currency)
            self.overview.set_currency(site.currency)

    def open_setup_if_new(self) -> None:
        """A site not set up yet opens on the Setup screen's guide."""
        db = self._db
        run_in_background(lambda: setup_status(db), self._maybe_setup, owner=self)

    def _maybe_setup(self, status: SetupStatus) -> None:
        if {"site", "rooms", "meters"} & set(status.missing):
            self.rail.setCurrentRow(self.page_number("setup"))
            self.setup.open("guide")
            self.setup.guide.show_status(status)

    def page_number(self, key: str) -> int:
        return next(n for n, (k, _label, _page) in enumerate(self.pages) if k == key)

    def show_room_account(self, room_label: str) -> None:
        """The Accounts screen, searched for this room (from the overview's click through)."""
        self.rail.setCurrentRow(self.page_number("accounts"))
        self.accounts.list.search.setText(room_label)
        self.accounts.list.setFocus()

    def reload(self) -> None:
        self.counter.reload()
        self.accounts.reload()
        self.meters.reload()
        self.alarms.reload()
        self.charts.reload()
        self.count_alarms()

    def count_alarms(self) -> None:
        """Ask (off the GUI thread) how many critical alarms are active; the badge says it."""
        db = self._db
        run_in_background(lambda: critical_active_count(db), self.alarm_badge.set_count, owner=self)

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

    def place_on_screen(self, settings: QSettings) -> None:
        """Open fitted to the screen the window is on: the geometry saved for that screen when
        it still fits, else the screen's whole available area. Closing saves it there."""
        self._settings = settings
        restore_on_screen(self, settings)

    def show_signed_in(self, settings: QSettings) -> None:
        """Show the console after the sign-in, fitted to its screen, with the cursor in the
        Counter's search field: the cashier types a room number without reaching for the mouse."""
        self.place_on_screen(settings)
        self.show()
        self.activateWindow()
        self.raise_()
        self.focus_search()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._settings is not None and not self.isMaximized() and not self.isFullScreen():
            save_on_screen(self, self._settings)
        self._clock.stop()
        self.charts.shutdown()
        wait_for_background()
        super().closeEvent(event)
