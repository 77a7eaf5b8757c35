"""Charts screen: live power (site, buildings, floors, meters) and history bars of energy or
volume per hour or day.

Live: series are picked by search (Ctrl+F: "site", "Building A", "Floor A-3", a meter number or
a room) and overlaid in a ``LivePlot``; the list on the right removes them (Delete). The range
box follows live data over the last 15 min to 24 h; zooming or panning with the mouse, or
Pause (Ctrl+P), stops following. Export PNG / CSV write what is shown.

History: bars of energy or volume per hour or day (``app.views.history_pane``). The names of
what can be shown are loaded here, off the GUI thread, for both tabs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.queries.history import (
    ChartTargets,
    history_targets,
)
from app.queries.site_facts import power_groups
from app.runtime.live_store import Key, LiveStore
from app.store.database import Database
from app.ui.background import run_in_background
from app.ui.live_plot import LivePlot
from app.ui.save_file import save_in_background
from app.views.history_pane import HistoryPane
from app.vocabulary import Utility

WINDOWS_S = (15 * 60, 3600, 6 * 3600, 24 * 3600)
DEFAULT_WINDOW_S = 3600


@dataclass(frozen=True)
class ChartNames:
    """What the screen can show, by name (loaded off the GUI thread)."""

    targets: ChartTargets
    groups: dict[str, list[int]]  # live groups: site, building:X, floor:X-N -> meter ids


def load_names(db: Database) -> ChartNames:
    """Runs in a worker thread."""
    return ChartNames(history_targets(db), power_groups(db))


def _swatch(color: QColor) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(color)
    return QIcon(pixmap)


class ChartsView(QWidget):
    """``names_loaded()`` after the names were (re)loaded, on the GUI thread. The History tab
    is ``history`` (``app.views.history_pane``)."""

    names_loaded = Signal()

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self._db = db
        self._names: ChartNames | None = None
        self._choices: dict[str, Key] = {}  # search label -> live key

        title = QLabel(self.tr("Charts"))
        title.setObjectName("pageTitle")
        self.tabs = QTabWidget()
        self.tabs.setObjectName("chartTabs")
        self.tabs.addTab(self._build_live(), self.tr("Live power"))
        self.history = HistoryPane(db)
        self.tabs.addTab(self.history, self.tr("History"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 12)
        layout.addWidget(title)
        layout.addWidget(self.tabs, 1)
        self.add_series("site")

    # == live ===================================================================================

    def _build_live(self) -> QWidget:
        page = QWidget()
        self.search = QLineEdit()
        self.search.setObjectName("searchField")
        self.search.setPlaceholderText(self.tr("Add: site, building, floor, meter, room  (Ctrl+F)"))
        self.search.setMinimumWidth(340)
        self._completions = QStringListModel(self)
        completer = QCompleter(self._completions, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setMaxVisibleItems(14)
        completer.activated.connect(self._add_from_search)
        self.search.setCompleter(completer)
        self.search.returnPressed.connect(lambda: self._add_from_search(self.search.text()))
        self.add_button = QPushButton(self.tr("Add"))
        self.add_button.clicked.connect(lambda: self._add_from_search(self.search.text()))

        self.range_box = QComboBox()
        self.range_box.setObjectName("liveRange")
        for seconds, text in zip(
            WINDOWS_S,
            (
                self.tr("Last 15 min"),
                self.tr("Last hour"),
                self.tr("Last 6 hours"),
                self.tr("Last 24 hours"),
            ),
            strict=True,
        ):
            self.range_box.addItem(text, seconds)
        self.range_box.setCurrentIndex(WINDOWS_S.index(DEFAULT_WINDOW_S))
        self.range_box.setToolTip(self.tr("Follow live data over this range"))
        self.range_box.activated.connect(self._on_range_chosen)
        self.follow_button = QPushButton(self.tr("Follow live"))
        self.follow_button.setObjectName("followLive")
        self.follow_button.setToolTip(self.tr("Follow live data again after a zoom, pan or pause"))
        self.follow_button.clicked.connect(self.follow_live)
        self.pause_button = QPushButton(self.tr("Pause  Ctrl+P"))
        self.pause_button.setObjectName("pauseLive")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._on_pause_toggled)
        metrics = self.pause_button.fontMetrics()
        self.pause_button.setMinimumWidth(  # the same width for both texts: no relayout
            max(
                metrics.horizontalAdvance(t)
                for t in (self.tr("Pause  Ctrl+P"), self.tr("Resume  Ctrl+P"))
            )
            + 32
        )
        QShortcut(QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_P), page, self.pause_button.toggle)
        self.png_button = QPushButton(self.tr("Export PNG…"))
        self.png_button.clicked.connect(self._ask_export_png)
        self.csv_button = QPushButton(self.tr("Export CSV…"))
        self.csv_button.clicked.connect(self._ask_export_csv)
        tools = QHBoxLayout()
        tools.addWidget(self.search, 3)
        tools.addWidget(self.add_button)
        tools.addSpacing(12)
        tools.addWidget(self.range_box)
        tools.addWidget(self.follow_button)
        tools.addWidget(self.pause_button)
        tools.addStretch(1)
        tools.addWidget(self.png_button)
        tools.addWidget(self.csv_button)

        self.plot = LivePlot()
        self.plot.following_changed.connect(self._on_following_changed)
        self.plot.series_changed.connect(self._refresh_series_list)
        self.plot.follow(DEFAULT_WINDOW_S)

        self.series_list = QListWidget()
        self.series_list.setObjectName("liveSeries")
        self.series_list.setToolTip(self.tr("Series shown; Delete removes the chosen one"))
        remove = QShortcut(QKeySequence.StandardKey.Delete, self.series_list)
        remove.setContext(Qt.ShortcutContext.WidgetShortcut)
        remove.activated.connect(self.remove_current_series)
        self.remove_button = QPushButton(self.tr("Remove"))
        self.remove_button.clicked.connect(self.remove_current_series)
        side = QVBoxLayout()
        shown = QLabel(self.tr("Shown"))
        shown.setObjectName("sectionLabel")
        side.addWidget(shown)
        side.addWidget(self.series_list, 1)
        side.addWidget(self.remove_button)
        self.live_status = QLabel()
        self.live_status.setObjectName("pageSubtitle")
        self.live_status.setWordWrap(True)
        side.addWidget(self.live_status)
        side_panel = QWidget()
        side_panel.setFixedWidth(240)  # messages wrap: the plot's width stays put
        side_panel.setLayout(side)
        side.setContentsMargins(8, 0, 0, 0)

        body = QHBoxLayout()
        body.addWidget(self.plot, 1)
        body.addWidget(side_panel)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 10, 0, 0)
        layout.addLayout(tools)
        layout.addLayout(body, 1)
        self._on_following_changed(True)
        return page

    def attach_live(self, store: LiveStore | None) -> None:
        """Show live power from ``store`` (the runtime's; None when it stopped)."""
        self.plot.set_store(store)

    def add_series(self, key: Key) -> bool:
        """Overlay a live series: a meter id or a group name ("site", "building:A",
        "floor:A-3"). False if it is shown already."""
        return self.plot.add_series(key, self.series_label(key))

    def remove_series(self, key: Key) -> None:
        self.plot.remove_series(key)

    def remove_current_series(self) -> None:
        item = self.series_list.currentItem()
        if item is not None:
            self.remove_series(item.data(Qt.ItemDataRole.UserRole))

    def series_label(self, key: Key) -> str:
        """How a live series is named: from the loaded names, else from its key."""
        if isinstance(key, int):
            meter = self._meter_names().get(key)
            if meter is None:
                return self.tr("Meter #{id}").format(id=key)
            serial, room = meter
            return f"{serial} · {room}" if room else serial
        if key == "site":
            return self.tr("Site")
        kind, _, name = key.partition(":")
        if kind == "building":
            return self.tr("Building {code}").format(code=name)
        if kind == "floor":
            return self.tr("Floor {name}").format(name=name)
        return key

    def _meter_names(self) -> dict[int, tuple[str, str]]:
        if self._names is None:
            return {}
        return {m.id: (m.serial, m.room_label) for m in self._names.targets.meters}

    def _add_from_search(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        key = self._choices.get(text)
        if key is None:
            wanted = text.casefold()
            matches = [k for label, k in self._choices.items() if wanted in label.casefold()]
            if len(matches) != 1:
                self.live_status.setText(
                    self.tr("No series matches “{text}”.").format(text=text)
                    if not matches
                    else self.tr("{n} series match “{text}”; pick one from the list.").format(
                        n=len(matches), text=text
                    )
                )
                return
            key = matches[0]
        if not self.add_series(key):
            self.live_status.setText(
                self.tr("{name} is shown already.").format(name=self.series_label(key))
            )
        else:
            self.live_status.setText("")
        self.search.clear()

    def _refresh_series_list(self) -> None:
        self.series_list.clear()
        for key in self.plot.series_keys():
            item = QListWidgetItem(
                _swatch(self.plot.series_color(key)), self.plot.series_label(key)
            )
            item.setData(Qt.ItemDataRole.UserRole, key)
            self.series_list.addItem(item)
        self.remove_button.setEnabled(self.series_list.count() > 0)

    def _on_range_chosen(self, index: int) -> None:
        self.plot.follow(float(self.range_box.itemData(index)))
        self.pause_button.setChecked(False)

    def follow_live(self) -> None:
        self.pause_button.setChecked(False)
        self.plot.follow(float(self.range_box.currentData()))

    def _on_pause_toggled(self, paused: bool) -> None:
        if paused:
            self.plot.set_paused(True)
        elif self.plot.paused:
            self.plot.follow(float(self.range_box.currentData()))
        self.pause_button.setText(self.tr("Resume  Ctrl+P") if paused else self.tr("Pause  Ctrl+P"))

    def _on_following_changed(self, following: bool) -> None:
        self.follow_button.setEnabled(not following)
        if not following and not self.plot.paused:
            self.live_status.setText(self.tr("Zoomed: not following live data."))
        elif following:
            self.live_status.setText("")

    def export_png(self, path: str | Path) -> bool:
        return self.plot.export_png(path)

    def export_csv(self, path: str | Path) -> int:
        return self.plot.export_csv(path)

    def _ask_export_png(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, self.tr("Export chart"), "live-power.png", self.tr("PNG images (*.png)")
        )
        if name:
            ok = self.export_png(name)
            self.live_status.setText(
                self.tr("Saved to {path}").format(path=name) if ok else self.tr("Not saved.")
            )

    def _ask_export_csv(self) -> None:
        save_in_background(
            self,
            self.tr("Export data"),
            "live-power.csv",
            self.plot.csv_writer(),
            self.live_status.setText,
            self.tr("{n} rows saved to {path}"),
        )

    # == names ==================================================================================

    def reload(self) -> None:
        """Load the names of meters, rooms, buildings and live groups (in the background)."""
        db = self._db
        run_in_background(lambda: load_names(db), self._on_names, self._on_names_failed, owner=self)

    def _on_names(self, names: ChartNames) -> None:
        self._names = names
        choices: dict[str, Key] = {}
        for group in names.groups:
            choices[self.series_label(group)] = group
        for meter in names.targets.meters:
            if meter.utility is Utility.ELECTRICITY and meter.in_service:
                choices[self.series_label(meter.id)] = meter.id
        self._choices = choices
        self._completions.setStringList(list(choices))
        for key in self.plot.series_keys():
            self.plot.rename_series(key, self.series_label(key))
        self._refresh_series_list()
        self.history.set_targets(names.targets)
        self.names_loaded.emit()

    def _on_names_failed(self, message: str) -> None:
        self.live_status.setText(self.tr("Names not loaded: {error}").format(error=message))

    def focus_search(self) -> None:
        if self.tabs.currentIndex() == 0:
            self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
            self.search.selectAll()
        else:
            self.history.focus_target()

    def shutdown(self) -> None:
        """Stop redrawing and wait for a frame in the making (the window is closing)."""
        self.plot.stop()
