"""The History tab of the Charts screen: energy or volume per hour or per day as bars.

A meter, room, building or the whole site, one utility at a time (kWh or m³ never in one
chart), per hour or per day over a date range; the query runs in the background with a busy
bar; totals under the chart; lighter bars are hours or days the readings cover only in part;
CSV export of the bars. Names and the query come from ``app.queries.history`` (no SQL
here).
"""

from __future__ import annotations

import csv
import functools
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg  # type: ignore[import-untyped]  # no stubs, no py.typed
from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.queries.history import (
    ChartTargets,
    EnergyBars,
    HistoryRefused,
    HistoryTarget,
    Resolution,
    TargetKind,
    energy_history,
)
from app.store.database import Database
from app.ui.background import run_in_background
from app.ui.formatting import utility_label
from app.ui.save_file import save_in_background
from app.vocabulary import Utility

BAR_COLOR = "#2563eb"
PARTIAL_BAR_COLOR = "#93c5fd"


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


class HistoryPane(QWidget):
    """``loaded(bars)`` after a query answered (None when it was refused or failed), on the GUI
    thread. ``set_targets`` gives it the names of what can be chosen."""

    loaded = Signal(object)

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._db = db
        self._targets: ChartTargets | None = None
        self.bars: EnergyBars | None = None  # the bars shown
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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 10, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.busy)
        layout.addWidget(self.bar_plot, 1)
        layout.addWidget(self.totals)
        self._fill_history_targets()

    def set_targets(self, targets: ChartTargets) -> None:
        """The meters, rooms and buildings to choose from (loaded off the GUI thread). The
        first time, the range becomes the last seven days of the site's calendar (this PC's
        until then)."""
        if self._targets is None and targets.today is not None:
            today = targets.today
            self.first_day.setDate(QDate(today.year, today.month, today.day).addDays(-6))
            self.last_day.setDate(QDate(today.year, today.month, today.day))
        self._targets = targets
        self._fill_history_targets()

    def focus_target(self) -> None:
        self.target_box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        edit = self.target_box.lineEdit()
        if edit is not None:
            edit.selectAll()

    def _fill_history_targets(self) -> None:
        kind = TargetKind(self.kind_box.currentData())
        box = self.target_box
        chosen = box.currentData()
        box.blockSignals(True)
        box.clear()
        targets = self._targets
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
        if kind is TargetKind.METER and self._targets is not None:
            meter_id = self.target_box.currentData()
            meter = next((m for m in self._targets.meters if m.id == meter_id), None)
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
        self.loaded.emit(None)

    def _on_history(self, answer: object) -> None:
        self._set_busy(False)
        if isinstance(answer, str):
            self.totals.setText(answer)
            self.loaded.emit(None)
            return
        assert isinstance(answer, EnergyBars)
        self.show_bars(answer)
        self.loaded.emit(answer)

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
        """Write the bars shown as CSV (``write_bars_csv``); returns the row count."""
        return write_bars_csv(self.bars, Path(path))

    def _ask_export_history(self) -> None:
        save_in_background(
            self,
            self.tr("Export history"),
            "history.csv",
            functools.partial(write_bars_csv, self.bars),
            self.totals.setText,
            self.tr("{n} rows saved to {path}"),
        )


def write_bars_csv(bars: EnergyBars | None, path: Path) -> int:
    """Write ``bars`` as CSV: start, end (site-local ISO 8601), amount in kWh or m³, coverage
    (0..1) and whether a long gap was spread over it. Returns the row count. Any thread."""
    with path.open("w", newline="", encoding="utf-8") as out:
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
