"""Charts screen: live power (site, buildings, floors, meters) and history bars of energy or
volume per hour or day.

Live: series are picked by search (Ctrl+F: "site", "Building A", "Floor A-3", a meter number or
a room) and overlaid in a ``LivePlot``; the list on the right removes them (Delete). The range
box follows live data over the last 15 min to 24 h; zooming or panning with the mouse, or
Pause (Ctrl+P), stops following. Export PNG / CSV write what is shown.

History: a meter, room, building or the whole site, one utility at a time (kWh or m³ never in
one chart), per hour or per day over a date range; the query runs in the background with a
busy bar; totals under the chart; lighter bars are hours or days the readings cover only in
part. Names and the query come from ``app.services.history_queries`` (no SQL here).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg  # type: ignore[import-untyped]  # no stubs, no py.typed
from PySide6.QtCore import QDate, QStringListModel, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QIcon, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.runtime.live_store import Key, LiveStore
from app.services.history_queries import (
    ChartTargets,
    EnergyBars,
    HistoryRefused,
    HistoryTarget,
    Resolution,
    TargetKind,
    energy_history,
    history_targets,
)
from app.services.site_queries import power_groups
from app.store.database import Database
from app.ui.background import run_in_background
from app.ui.formatting import utility_label
from app.ui.live_plot import LivePlot
from app.vocabulary import Utility

WINDOWS_S = (15 * 60, 3600, 6 * 3600, 24 * 3600)
DEFAULT_WINDOW_S = 3600
BAR_COLOR = "#2563eb"
PARTIAL_BAR_COLOR = "#93c5fd"


@dataclass(frozen=True)
class ChartNames:
    """What the screen can show, by name (loaded off the GUI thread)."""

    targets: ChartTargets
    groups: dict[str, list[int]]  # live groups: site, building:X, floor:X-N -> meter ids


def load_names(db: Database) -> ChartNames:
    """Runs in a worker thread."""
    return ChartNames(history_targets(db), power_groups(db))


class BucketAxis(pg.AxisItem):  # type: ignore[misc]
    """A bottom axis over bar numbers 0..n-1 that shows each bar's label, thinned out so
    labels do not overlap."""

    def __init__(self) -> None:
        super().__init__(orientation="bottom")
        self._labels: list[str] = []

    def set_labels(self, labels: list[str]) -> None:
        self._labels = labels
        self.picture = None
        self.update()

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[Any]:  # noqa: N803
        if not self._labels or size <= 0:
            return []
        metrics = QFontMetrics(self.style.get("tickFont") or self.font())
        widest = max(metrics.horizontalAdvance(t) for t in self._labels) + 16
        shown = max(1.0, maxVal - minVal)
        step = max(1, int(np.ceil(shown * widest / size)))
        for nice in (1, 2, 3, 4, 6, 7, 12, 24, 48, 168):
            if nice >= step:
                step = nice
                break
        first = max(0, int(np.ceil(minVal / step)) * step)
        last = min(len(self._labels) - 1, int(maxVal))
        return [(step, list(range(first, last + 1, step)))]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        out = []
        for value in values:
            index = round(value)
            out.append(self._labels[index] if 0 <= index < len(self._labels) else "")
        return out


def _swatch(color: QColor) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(color)
    return QIcon(pixmap)


class ChartsView(QWidget):
    """``names_loaded()`` after the names were (re)loaded; ``history_loaded(bars)`` after a
    history query answered (None when it was refused or failed). Both on the GUI thread."""

    names_loaded = Signal()
    history_loaded = Signal(object)

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page")
        self._db = db
        self._names: ChartNames | None = None
        self._choices: dict[str, Key] = {}  # search label -> live key
        self.bars: EnergyBars | None = None  # the history shown

        title = QLabel(self.tr("Charts"))
        title.setObjectName("pageTitle")
        self.tabs = QTabWidget()
        self.tabs.setObjectName("chartTabs")
        self.tabs.addTab(self._build_live(), self.tr("Live power"))
        self.tabs.addTab(self._build_history(), self.tr("History"))
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
        name, _ = QFileDialog.getSaveFileName(
            self, self.tr("Export data"), "live-power.csv", self.tr("CSV files (*.csv)")
        )
        if not name:
            return
        try:
            rows = self.export_csv(name)
        except OSError as exc:
            self.live_status.setText(self.tr("Not saved: {error}").format(error=exc.strerror))
            return
        self.live_status.setText(self.tr("{n} rows saved to {path}").format(n=rows, path=name))

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
        self._fill_history_targets()
        self.names_loaded.emit()

    def _on_names_failed(self, message: str) -> None:
        self.live_status.setText(self.tr("Names not loaded: {error}").format(error=message))

    def focus_search(self) -> None:
        if self.tabs.currentIndex() == 0:
            self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
            self.search.selectAll()
        else:
            self.target_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
            edit = self.target_box.lineEdit()
            if edit is not None:
                edit.selectAll()

    def shutdown(self) -> None:
        """Stop redrawing and wait for a frame in the making (the window is closing)."""
        self.plot.stop()

    # == history ================================================================================

    def _build_history(self) -> QWidget:
        page = QWidget()
        self.kind_box = QComboBox()
        self.kind_box.setObjectName("historyKind")
        for kind, text in (
            (TargetKind.SITE, self.tr("Whole site")),
            (TargetKind.BUILDING, self.tr("Building")),
            (TargetKind.ROOM, self.tr("Room")),
            (TargetKind.METER, self.tr("Meter")),
        ):
            self.kind_box.addItem(text, kind.value)
        self.kind_box.currentIndexChanged.connect(lambda _i: self._fill_history_targets())
        self.target_box = QComboBox()
        self.target_box.setObjectName("historyTarget")
        self.target_box.setEditable(True)
        self.target_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.target_box.setMinimumContentsLength(14)
        target_completer = self.target_box.completer()
        if target_completer is not None:
            target_completer.setFilterMode(Qt.MatchFlag.MatchContains)
            target_completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.target_box.currentIndexChanged.connect(lambda _i: self._sync_utility())
        self.utility_box = QComboBox()
        self.utility_box.setObjectName("historyUtility")
        for utility in Utility:
            self.utility_box.addItem(utility_label(utility), utility.value)
        self.resolution_box = QComboBox()
        self.resolution_box.setObjectName("historyResolution")
        self.resolution_box.addItem(self.tr("Per hour"), Resolution.HOUR.value)
        self.resolution_box.addItem(self.tr("Per day"), Resolution.DAY.value)
        self.resolution_box.setCurrentIndex(1)
        today = QDate.currentDate()
        self.first_day = QDateEdit(today.addDays(-6))
        self.last_day = QDateEdit(today)
        for edit in (self.first_day, self.last_day):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.show_button = QPushButton(self.tr("Show"))
        self.show_button.setObjectName("primaryButton")
        self.show_button.setDefault(True)
        self.show_button.clicked.connect(self.show_history)
        self.history_csv_button = QPushButton(self.tr("Export CSV…"))
        self.history_csv_button.clicked.connect(self._ask_export_history)
        self.history_csv_button.setEnabled(False)
        row = QHBoxLayout()
        for widget in (self.kind_box, self.target_box, self.utility_box, self.resolution_box):
            row.addWidget(widget)
        row.addWidget(QLabel(self.tr("from")))
        row.addWidget(self.first_day)
        row.addWidget(QLabel(self.tr("to")))
        row.addWidget(self.last_day)
        row.addWidget(self.show_button)
        row.addStretch(1)
        row.addWidget(self.history_csv_button)

        self.busy = QProgressBar()
        self.busy.setObjectName("historyBusy")
        self.busy.setRange(0, 0)
        self.busy.setMaximumHeight(6)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.bar_axis = BucketAxis()
        self.bar_plot = pg.PlotWidget(background="w", axisItems={"bottom": self.bar_axis})
        self.bar_plot.setObjectName("historyPlot")
        item = self.bar_plot.getPlotItem()
        item.hideButtons()
        item.setMenuEnabled(False)
        item.showGrid(y=True, alpha=0.12)
        for side in ("left", "bottom"):
            item.getAxis(side).setPen(pg.mkPen("#94a3b8"))
            item.getAxis(side).setTextPen(pg.mkPen("#334155"))
        item.getViewBox().setMouseEnabled(x=True, y=False)
        self.bar_item = pg.BarGraphItem(x=[], height=[], width=0.8)
        self.bar_plot.addItem(self.bar_item)
        self.totals = QLabel(self.tr("Choose what to show and press Show."))
        self.totals.setObjectName("historyTotals")
        self.totals.setWordWrap(True)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 10, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.busy)
        layout.addWidget(self.bar_plot, 1)
        layout.addWidget(self.totals)
        self._fill_history_targets()
        return page

    def _fill_history_targets(self) -> None:
        kind = TargetKind(self.kind_box.currentData())
        box = self.target_box
        chosen = box.currentData()
        box.blockSignals(True)
        box.clear()
        targets = self._names.targets if self._names is not None else None
        if kind is TargetKind.SITE:
            box.addItem(self.tr("All meters"), None)
        elif targets is not None and kind is TargetKind.BUILDING:
            for b in targets.buildings:
                box.addItem(f"{b.code} · {b.name}", b.id)
        elif targets is not None and kind is TargetKind.ROOM:
            for r in targets.rooms:
                box.addItem(r.label, r.id)
        elif targets is not None:
            for m in targets.meters:
                where = m.room_label or self.tr("no room")
                gone = "" if m.in_service else self.tr(" (removed)")
                box.addItem(f"{m.serial} · {where}{gone}", m.id)
        box.setEnabled(kind is not TargetKind.SITE)
        at = box.findData(chosen)
        box.setCurrentIndex(max(0, at))
        box.blockSignals(False)
        if targets is not None:
            present = set(targets.utilities)
            model = self.utility_box.model()
            for i in range(self.utility_box.count()):
                usable = Utility(self.utility_box.itemData(i)) in present or not present
                model.item(i).setEnabled(usable)  # type: ignore[attr-defined]
        self._sync_utility()

    def _sync_utility(self) -> None:
        """A meter measures one utility: the box shows it and cannot be changed."""
        kind = TargetKind(self.kind_box.currentData())
        if kind is TargetKind.METER and self._names is not None:
            meter_id = self.target_box.currentData()
            meter = next((m for m in self._names.targets.meters if m.id == meter_id), None)
            if meter is not None:
                self.utility_box.setCurrentIndex(self.utility_box.findData(meter.utility.value))
        self.utility_box.setEnabled(kind is not TargetKind.METER)

    def set_history(
        self,
        kind: TargetKind,
        target_id: int | None,
        utility: Utility,
        first: date,
        last: date,
        resolution: Resolution,
    ) -> None:
        """Set the history controls (the names must be loaded to choose a target by id)."""
        self.kind_box.setCurrentIndex(self.kind_box.findData(kind.value))
        if target_id is not None:
            self.target_box.setCurrentIndex(self.target_box.findData(target_id))
        self.utility_box.setCurrentIndex(self.utility_box.findData(utility.value))
        self.resolution_box.setCurrentIndex(self.resolution_box.findData(resolution.value))
        self.first_day.setDate(QDate(first.year, first.month, first.day))
        self.last_day.setDate(QDate(last.year, last.month, last.day))

    def history_target(self) -> HistoryTarget | None:
        """What the history controls ask for, or None while no target is chosen."""
        kind = TargetKind(self.kind_box.currentData())
        utility = Utility(self.utility_box.currentData())
        if kind is TargetKind.SITE:
            return HistoryTarget(kind, None, utility)
        text = self.target_box.currentText()
        at = self.target_box.findText(text, Qt.MatchFlag.MatchFixedString)
        if at < 0:
            return None
        return HistoryTarget(kind, int(self.target_box.itemData(at)), utility)

    def show_history(self) -> None:
        """Run the history query for the controls' choice in the background."""
        target = self.history_target()
        if target is None:
            self.totals.setText(self.tr("Choose a building, room or meter from the list first."))
            return
        first = self.first_day.date().toPython()
        last = self.last_day.date().toPython()
        assert isinstance(first, date)
        assert isinstance(last, date)
        resolution = Resolution(self.resolution_box.currentData())
        db = self._db

        def work() -> object:
            try:
                return energy_history(db, target, first, last, resolution)
            except HistoryRefused as exc:
                return str(exc)

        self._set_busy(True)
        run_in_background(work, self._on_history, self._on_history_failed, owner=self)

    def _set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        self.show_button.setEnabled(not busy)
        if busy:
            self.totals.setText(self.tr("Adding up the readings…"))

    def _on_history_failed(self, message: str) -> None:
        self._set_busy(False)
        self.totals.setText(self.tr("Not shown: {error}").format(error=message))
        self.history_loaded.emit(None)

    def _on_history(self, answer: object) -> None:
        self._set_busy(False)
        if isinstance(answer, str):
            self.totals.setText(answer)
            self.history_loaded.emit(None)
            return
        assert isinstance(answer, EnergyBars)
        self.show_bars(answer)
        self.history_loaded.emit(answer)

    def show_bars(self, bars: EnergyBars) -> None:
        self.bars = bars
        amounts = np.asarray(bars.amounts, dtype=np.float64)
        count = amounts.size
        brushes = [
            pg.mkBrush(BAR_COLOR if c >= 0.999 else PARTIAL_BAR_COLOR) for c in bars.coverage
        ]
        self.bar_item.setOpts(
            x=np.arange(count), height=amounts, width=0.8, brushes=brushes, pens=[None] * count
        )
        hourly = bars.resolution is Resolution.HOUR
        many_days = count > 24
        fmt = ("%m-%d %H:%M" if many_days else "%H:%M") if hourly else "%a %m-%d"
        self.bar_axis.set_labels([s.strftime(fmt) for s in bars.starts])
        unit = self._unit_text(bars)
        item = self.bar_plot.getPlotItem()
        item.setLabel("left", unit)
        top = float(np.max(amounts)) if count else 0.0
        item.getViewBox().setRange(
            xRange=(-0.6, max(count, 1) - 0.4), yRange=(0, top * 1.08 or 1.0), padding=0
        )
        item.getViewBox().setLimits(xMin=-1, xMax=max(count, 1))
        self.history_csv_button.setEnabled(count > 0)
        self.totals.setText(self._totals_text(bars, unit))

    def _unit_text(self, bars: EnergyBars) -> str:
        return self.tr("kWh") if bars.target.utility is Utility.ELECTRICITY else self.tr("m³")

    def _totals_text(self, bars: EnergyBars, unit: str) -> str:
        if bars.meters == 0:
            return self.tr("No readings in this range.")
        amounts = bars.amounts
        peak = max(range(len(amounts)), key=amounts.__getitem__)
        when = bars.starts[peak].strftime(
            "%Y-%m-%d %H:%M" if bars.resolution is Resolution.HOUR else "%Y-%m-%d"
        )
        parts = [
            self.tr("Total {total:.3f} {unit}").format(total=bars.total, unit=unit),
            self.tr("highest {amount:.3f} {unit} ({when})").format(
                amount=amounts[peak], unit=unit, when=when
            ),
            self.tr("{n} meter(s)").format(n=bars.meters),
        ]
        notes = []
        if any(c < 0.999 for c in bars.coverage):
            notes.append(self.tr("Lighter bars: the readings cover only part of that time."))
        if bars.resets:
            notes.append(
                self.tr("{n} register reset(s) left out (never counted as negative).").format(
                    n=bars.resets
                )
            )
        return " · ".join(parts) + ("\n" + " ".join(notes) if notes else "")

    def export_history_csv(self, path: str | Path) -> int:
        """Write the bars shown as CSV: start, end (site-local ISO 8601), amount in kWh or m³,
        coverage (0..1) and whether a long gap was spread over it. Returns the row count."""
        bars = self.bars
        with Path(path).open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            if bars is None:
                return 0
            unit = "kWh" if bars.target.utility is Utility.ELECTRICITY else "m3"
            writer.writerow(["start", "end", unit, "coverage", "estimated"])
            for start, end, amount, cover, estimated in zip(
                bars.starts, bars.ends, bars.amounts, bars.coverage, bars.estimated, strict=True
            ):
                writer.writerow(
                    [
                        start.isoformat(timespec="minutes"),
                        end.isoformat(timespec="minutes"),
                        f"{amount:.6f}".rstrip("0").rstrip(".") or "0",
                        f"{cover:.3f}",
                        "yes" if estimated else "",
                    ]
                )
            return len(bars.starts)

    def _ask_export_history(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, self.tr("Export history"), "history.csv", self.tr("CSV files (*.csv)")
        )
        if not name:
            return
        try:
            rows = self.export_history_csv(name)
        except OSError as exc:
            self.totals.setText(self.tr("Not saved: {error}").format(error=exc.strerror))
            return
        self.totals.setText(self.tr("{n} rows saved to {path}").format(n=rows, path=name))
