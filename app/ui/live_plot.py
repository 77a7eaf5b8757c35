"""A live power plot over a ``LiveStore``: several series overlaid, redrawn on a timer.

How a frame is made. The GUI thread's timer (``REDRAW_HZ``) asks for a frame only when the
store's ``version``, the time range, the plot's size or the series shown changed, and never
while one is being made. A reader thread (a pool of one, owned by the plot; the steps are in
``app.ui.live_frames``) then reads the range of every series from the store (``read_grid``; the
visible range plus half a width either side when not following, so a pan shows data at once),
reduces each to a minimum and a maximum per two pixel columns (``min_max_decimate``: peaks stay
visible, and the work no longer grows with the length of the range), chooses the power axis
from what is visible, and paints all the curves into one transparent image (``render_curves``;
QPainter on a QImage is allowed off the GUI thread). The GUI thread only swaps that image into
the plot and sets the axes: its part of a frame (``last_frame_ms``: swap plus the paint that
follows, the legend being one picture: ``app.ui.live_legend``) stays a few milliseconds however
many series and points there are. Fifty series of 24 h at 5 s measured on the development PC:
see the report of issue #6 (numbers are not asserted by tests).

Flood guard: with more than ``max_series`` series, or when ``slow_frames`` frames in a row take
longer than ``frame_budget_ms`` on the GUI thread or ``read_budget_ms`` in the reader, drawing
stops and a banner says why and what to do; data keeps flowing into the store and export still
works. Removing series, choosing another range or pressing "Draw again" tries again.

Time axis: pyqtgraph's ``DateAxisItem`` labels epoch seconds in this PC's local time (with the
daylight-saving offset of each tick), like every other time the screens show; CSV export writes
the same local time with its UTC offset.

Following: by default the view follows live data with a window (15 min ... 24 h). Zooming
(mouse wheel) or panning (drag) the time axis, or pausing, stops following
(``following_changed``); ``follow`` resumes. While paused, new data is not drawn; zoom and pan
still are. The power axis always fits the visible data. Clicking a legend entry hides or shows
that series.
"""

from __future__ import annotations

import csv
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg  # type: ignore[import-untyped]  # no stubs, no py.typed
from numpy.typing import NDArray
from PySide6.QtCore import QRectF, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QColor, QPaintEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.runtime.live_store import Key, LiveStore
from app.ui.live_frames import (
    CurvesImage,
    Frame,
    FrameRelay,
    FrameRequest,
    FrameTask,
    PenSpec,
    make_frame,
    read_grid,
)
from app.ui.live_legend import LegendEntry, LegendImage

log = logging.getLogger(__name__)

REDRAW_HZ = 12
MAX_SERIES = 60
FRAME_BUDGET_MS = 40.0  # GUI-thread time of a frame (image swap + paint) that counts as slow
READ_BUDGET_MS = 400.0  # reader-thread time of a frame (read + decimate + render) that is slow
SLOW_FRAMES = 3  # so many slow frames in a row engage the flood guard


# Distinct colours on white (Tailwind 600/700 shades), then the same again dashed.
PALETTE = (
    "#2563eb",
    "#dc2626",
    "#16a34a",
    "#d97706",
    "#7c3aed",
    "#0891b2",
    "#db2777",
    "#65a30d",
    "#ea580c",
    "#4f46e5",
    "#0d9488",
    "#a16207",
    "#9333ea",
    "#475569",
    "#be123c",
    "#15803d",
)


@dataclass
class _Series:
    key: Key
    label: str
    pen: PenSpec
    visible: bool = True  # hidden by a click on its legend entry
    shown: NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, np.float32))


class _TimedPlotWidget(pg.PlotWidget):  # type: ignore[misc]
    """A PlotWidget that reports how long each paint took (ms), on the GUI thread."""

    painted = Signal(float)

    def paintEvent(self, ev: QPaintEvent) -> None:
        start = time.perf_counter()
        super().paintEvent(ev)
        self.painted.emit((time.perf_counter() - start) * 1000)


class LivePlot(QWidget):
    """Live power (W) of chosen series of a ``LiveStore``; see the module docstring. Lives on
    the GUI thread; frames are made in its own reader thread.

    Signals (GUI thread): ``following_changed(bool)`` when following live data starts or stops
    (mouse zoom or pan, pause, ``follow``); ``flood_guard_changed(bool)``; ``series_changed()``
    after a series was added or removed; ``frame_shown()`` after each frame is put on screen.
    """

    following_changed = Signal(bool)
    flood_guard_changed = Signal(bool)
    series_changed = Signal()
    frame_shown = Signal()

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        clock: Callable[[], float] = time.time,
        redraw_hz: float = REDRAW_HZ,
        max_series: int = MAX_SERIES,
        frame_budget_ms: float = FRAME_BUDGET_MS,
        read_budget_ms: float = READ_BUDGET_MS,
        slow_frames: int = SLOW_FRAMES,
        read_in_thread: bool = True,
    ) -> None:
        super().__init__(parent)
        # The pool is made first so it is deleted first: its destructor waits for a frame in
        # the making while the relay that frame reports to still exists.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = FrameRelay(self)
        self._relay.done.connect(self._on_frame)
        self._read_in_thread = read_in_thread
        self._making = False
        self._clock = clock
        self.max_series = max_series
        self.frame_budget_ms = frame_budget_ms
        self.read_budget_ms = read_budget_ms
        self.slow_frames = slow_frames
        self._store: LiveStore | None = None
        self._series: dict[Key, _Series] = {}
        self._window_s = 3600.0
        self._following = True
        self._paused = False
        self._asked: tuple[object, ...] | None = None  # the state of the last frame asked for
        self._swap_ms: float | None = None  # set when a frame is shown, until it is painted
        self._slow_in_row = 0
        self._flood_reason = ""
        self._x: NDArray[np.float64] = np.zeros(0)
        self.frames_drawn = 0
        self.last_frame_ms = 0.0  # GUI thread: image swap + paint
        self.last_make_ms = 0.0  # reader thread: read + decimate + render
        self.last_swap_ms = 0.0
        self.last_paint_ms = 0.0
        self.last_error = ""

        self.plot_widget = _TimedPlotWidget(
            background="w", axisItems={"bottom": pg.DateAxisItem(orientation="bottom")}
        )
        self.plot_widget.setObjectName("livePlotCanvas")
        item = self.plot_widget.getPlotItem()
        item.hideButtons()
        item.setMenuEnabled(False)
        item.setLabel("left", self.tr("Power"), units="W")
        # A fixed width: one that follows the tick labels would change the plot's width with
        # the power range, and every width change asks for a new frame.
        item.getAxis("left").setWidth(72)
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            axis.setPen(pg.mkPen("#94a3b8"))
            axis.setTextPen(pg.mkPen("#334155"))
        self._view = item.getViewBox()
        self.legend = LegendImage()
        self.legend.setParentItem(self._view)
        self.legend.setPos(8, 8)
        self.legend.clicked.connect(self._on_legend_clicked)
        self._view.disableAutoRange()  # the plot sets both axes itself
        self._view.setMouseEnabled(x=True, y=False)  # time zooms and pans; power fits the data
        self._view.sigRangeChangedManually.connect(self._on_manual_range)
        self.curves = CurvesImage()
        self.plot_widget.addItem(self.curves)
        self.plot_widget.painted.connect(self._on_painted)

        self.banner = QFrame()
        self.banner.setObjectName("floodBanner")
        self.banner_text = QLabel()
        self.banner_text.setObjectName("floodBannerText")
        self.banner_text.setWordWrap(True)
        self.retry_button = QPushButton(self.tr("Draw again"))
        self.retry_button.setObjectName("floodRetry")
        self.retry_button.clicked.connect(self.release_flood_guard)
        banner_row = QHBoxLayout(self.banner)
        banner_row.setContentsMargins(10, 6, 10, 6)
        banner_row.addWidget(self.banner_text, 1)
        banner_row.addWidget(self.retry_button)
        self.banner.hide()

        self.empty_hint = QLabel()
        self.empty_hint.setObjectName("emptyHint")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.banner)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.empty_hint)
        self._update_hint()

        self._timer = QTimer(self)
        self._timer.setInterval(max(1, round(1000 / redraw_hz)))
        self._timer.timeout.connect(self.tick)
        self._timer.start()

    # -- state ------------------------------------------------------------------------------

    @property
    def store(self) -> LiveStore | None:
        return self._store

    def set_store(self, store: LiveStore | None) -> None:
        self._store = store
        self._asked = None
        self._update_hint()

    @property
    def flood_guard_active(self) -> bool:
        return bool(self._flood_reason)

    @property
    def flood_reason(self) -> str:
        """The banner's text while the guard is on, else ''."""
        return self._flood_reason

    @property
    def following(self) -> bool:
        return self._following

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def window_s(self) -> float:
        return self._window_s

    def series_keys(self) -> list[Key]:
        return list(self._series)

    def series_label(self, key: Key) -> str:
        return self._series[key].label

    def series_color(self, key: Key) -> QColor:
        return QColor(self._series[key].pen.color)

    def series_visible(self, key: Key) -> bool:
        return self._series[key].visible

    def set_series_visible(self, key: Key, visible: bool) -> None:
        self._series[key].visible = visible
        self._asked = None
        self._refresh_legend()

    def curve_data(self, key: Key) -> tuple[NDArray[np.float64], NDArray[np.float32]]:
        """What the last frame drew for ``key``: x (epoch s) and y (W), decimated; empty
        before the first frame and for a hidden series."""
        series = self._series[key]
        if series.shown.size == 0:
            return np.zeros(0), np.zeros(0, np.float32)
        return self._x, series.shown

    def visible_range(self) -> tuple[float, float]:
        lo, hi = self._view.viewRange()[0]
        return float(lo), float(hi)

    def power_range(self) -> tuple[float, float]:
        lo, hi = self._view.viewRange()[1]
        return float(lo), float(hi)

    # -- series -----------------------------------------------------------------------------

    def add_series(self, key: Key, label: str) -> bool:
        """Overlay ``key`` (a meter id or group name) as ``label``; False if already shown."""
        if key in self._series:
            return False
        used = {s.pen.color for s in self._series.values() if not s.pen.dashed}
        free = [c for c in PALETTE if c not in used]
        spec = (
            PenSpec(free[0], False)
            if free
            else PenSpec(PALETTE[len(self._series) % len(PALETTE)], True)
        )
        self._series[key] = _Series(key, label, spec)
        self._refresh_legend()
        self._series_set_changed()
        return True

    def remove_series(self, key: Key) -> None:
        series = self._series.pop(key, None)
        if series is None:
            return
        self._refresh_legend()
        self._series_set_changed()

    def rename_series(self, key: Key, label: str) -> None:
        series = self._series.get(key)
        if series is None or series.label == label:
            return
        series.label = label
        self._refresh_legend()

    def _refresh_legend(self) -> None:
        entries = tuple(
            LegendEntry(s.key, s.label, s.pen.color, s.pen.dashed, s.visible)
            for s in self._series.values()
        )
        self.legend.set_entries(entries, self.plot_widget.devicePixelRatioF())

    def _series_set_changed(self) -> None:
        self._asked = None
        self._update_hint()
        if self._flood_reason:
            self.release_flood_guard()  # try again with the new set (re-engages if still too many)
        else:
            self._check_series_count()
        self.series_changed.emit()

    def _on_legend_clicked(self, key: Key) -> None:
        if key in self._series:  # hide or show it; the next frame draws what is shown
            self.set_series_visible(key, not self._series[key].visible)

    def _update_hint(self) -> None:
        if self._store is None:
            text = self.tr("Live power appears here once polling has started.")
        elif not self._series:
            text = self.tr("Add a series above to see its live power.")
        else:
            text = ""
        self.empty_hint.setText(text)
        self.empty_hint.setVisible(bool(text))

    # -- range and pause --------------------------------------------------------------------

    def follow(self, window_s: float | None = None) -> None:
        """Follow live data, showing the last ``window_s`` seconds (the current window if
        None). Ends a pause."""
        if window_s is not None:
            self._window_s = float(window_s)
        self._paused = False
        self._set_following(True)
        self._asked = None
        if self._flood_reason:
            self.release_flood_guard()

    def set_paused(self, paused: bool) -> None:
        """Pause: stop following and drawing new data (zoom and pan still work). Unpause:
        follow live again."""
        if paused == self._paused:
            return
        if paused:
            self._paused = True
            self._set_following(False)
            if self._store is not None:  # what is shown is the paused picture: no new frame
                self._asked = self._wanted(self._store)[0]
        else:
            self.follow()

    def show_range(self, since: float, until: float) -> None:
        """Show a fixed time range (stops following)."""
        self._set_following(False)
        self._view.setXRange(since, until, padding=0)
        self._asked = None

    def _set_following(self, following: bool) -> None:
        if following != self._following:
            self._following = following
            self.following_changed.emit(following)

    def _on_manual_range(self, *_args: Any) -> None:
        self._set_following(False)

    # -- frames -----------------------------------------------------------------------------

    def tick(self) -> None:
        """Timer: ask for a frame if anything shown changed (one frame in the making at most;
        the next tick asks again if the state moved on meanwhile)."""
        if self._swap_ms is not None:  # the last frame was not painted (hidden): count it now
            self._frame_done(0.0)
        store = self._store
        if (
            store is None
            or not self._series
            or self._flood_reason
            or self._making
            or not self.isVisible()
        ):
            return
        state, request = self._wanted(store)
        if state == self._asked:
            return
        self._asked = state
        if self._read_in_thread:
            self._making = True
            self._pool.start(FrameTask(request, self._relay))
        else:
            self._on_frame(make_frame(request))

    def _wanted(self, store: LiveStore) -> tuple[tuple[object, ...], FrameRequest]:
        """The frame the plot should show now, and the state that decides whether it differs
        from the last one asked for (while paused, only the range, size and series count)."""
        since: float
        until: float
        if self._following:
            step = store.step_s
            until = float(math.ceil(self._clock() / step) * step)
            since = until - self._window_s
        else:
            since, until = self.visible_range()
        shown = tuple(s for s in self._series.values() if s.visible)
        rect = self._view.sceneBoundingRect()
        width, height = max(1, round(rect.width())), max(1, round(rect.height()))
        version = None if self._paused else store.version
        keys = tuple(s.key for s in shown)
        request = FrameRequest(
            store=store,
            keys=keys,
            pens=tuple(s.pen for s in shown),
            since=since,
            until=until,
            margin=0.0 if self._following else (until - since) / 2,
            width_px=width,
            height_px=height,
            pixel_ratio=self.devicePixelRatioF(),
            y_range=None,
            following=self._following,
        )
        return (version, since, until, width, height, keys), request

    def redraw(self) -> None:
        """Ask for a frame now, even if nothing seems to have changed."""
        self._asked = None
        self.tick()

    def _on_frame(self, frame: Frame) -> None:
        """GUI thread: put a frame made by the reader on screen."""
        self._making = False
        self.last_make_ms = frame.made_ms
        self.last_error = frame.error
        request = frame.request
        shown = tuple(s.key for s in self._series.values() if s.visible)
        if request.following and not self._following:
            return  # asked for before a pause, zoom or pan: what is shown stays
        if request.keys != shown or self._flood_reason or frame.error:
            self._asked = None  # the series changed meanwhile (or it failed): ask again
            return
        start = time.perf_counter()
        x0, x1 = frame.x_range
        y0, y1 = frame.y_range
        self.curves.set_image(frame.image, QRectF(x0, y0, x1 - x0, y1 - y0))
        self._x = frame.x
        for row, key in enumerate(request.keys):
            self._series[key].shown = frame.y[row]
        for series in self._series.values():
            if series.key not in request.keys:
                series.shown = np.zeros(0, np.float32)
        if self._following:
            self._view.setXRange(request.since, request.until, padding=0)
        self._view.setYRange(y0, y1, padding=0)
        self.frames_drawn += 1
        self._swap_ms = (time.perf_counter() - start) * 1000
        self.frame_shown.emit()

    def _on_painted(self, paint_ms: float) -> None:
        if self._swap_ms is not None:
            self._frame_done(paint_ms)

    def _frame_done(self, paint_ms: float) -> None:
        swap = self._swap_ms or 0.0
        self._swap_ms = None
        self.last_swap_ms = swap
        self.last_paint_ms = paint_ms
        self.last_frame_ms = swap + paint_ms
        slow = self.last_frame_ms > self.frame_budget_ms or self.last_make_ms > self.read_budget_ms
        self._slow_in_row = self._slow_in_row + 1 if slow else 0
        if self._slow_in_row >= self.slow_frames and not self._flood_reason:
            self._engage(
                self.tr(
                    "Drawing paused: the last {n} frames took about {ms:.0f} ms each, more than "
                    "this PC can spare and stay responsive. Remove some series or choose a "
                    "shorter range, then press Draw again."
                ).format(n=self._slow_in_row, ms=max(self.last_frame_ms, self.last_make_ms))
            )

    # -- flood guard ------------------------------------------------------------------------

    def _check_series_count(self) -> None:
        count = len(self._series)
        if count > self.max_series:
            self._engage(
                self.tr(
                    "Drawing paused: {n} series are more than this PC draws smoothly (at most "
                    "{max}). Remove some series or choose a shorter range."
                ).format(n=count, max=self.max_series)
            )

    def _engage(self, reason: str) -> None:
        self._flood_reason = reason
        self.banner_text.setText(reason)
        self.banner.show()
        self.flood_guard_changed.emit(True)

    def release_flood_guard(self) -> None:
        """Try drawing again (the guard engages again if the cause is still there)."""
        was = bool(self._flood_reason)
        self._flood_reason = ""
        self._slow_in_row = 0
        self._asked = None
        self.banner.hide()
        if was:
            self.flood_guard_changed.emit(False)
        self._check_series_count()

    # -- export -----------------------------------------------------------------------------

    def export_png(self, path: str | Path) -> bool:
        """Save the plot as it is shown (legend and axes included) as a PNG image."""
        return bool(self.plot_widget.grab().save(str(path), "PNG"))

    def export_csv(self, path: str | Path) -> int:
        """Write the data of the visible time range, not decimated, as CSV: ``time`` (local
        time, ISO 8601 with its UTC offset) and one column per series in W (empty where
        nothing was measured). Returns the number of data rows."""
        return self.csv_writer()(Path(path))

    def csv_writer(self) -> Callable[[Path], int]:
        """``export_csv`` of what is shown now, as a function that any thread may run later
        (the series, their names and the range are taken here, on the GUI thread)."""
        store, keys = self._store, list(self._series)
        header = [self.tr("time")] + [f"{self._series[k].label} (W)" for k in keys]
        since, until = self.visible_range()

        def write(path: Path) -> int:
            if store is None:
                times: NDArray[np.float64] = np.zeros(0)
                values: NDArray[np.float32] = np.zeros((len(keys), 0), dtype=np.float32)
            else:
                times, values = read_grid(store, keys, since, until)
            with path.open("w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                writer.writerow(header)
                for column, at in enumerate(times):
                    moment = datetime.fromtimestamp(float(at), UTC).astimezone()
                    writer.writerow(
                        [moment.isoformat(timespec="seconds")]
                        + [
                            "" if np.isnan(v) else np.format_float_positional(v, trim="-")
                            for v in values[:, column]
                        ]
                    )
            return int(times.size)

        return write

    def stop(self) -> None:
        """Stop the redraw timer and wait for a frame in the making (the window is closing)."""
        self._timer.stop()
        self._pool.waitForDone()
