"""Making a live plot's frame, off the GUI thread: read every series' visible range from the
``LiveStore`` onto one time grid (``read_grid``), keep a minimum and a maximum per two pixel
columns (``min_max_decimate``), fit the power axis to a round number (``fit_y_range``), and paint
every curve into one transparent image (``render_curves``; QPainter on a QImage is allowed off
the GUI thread). ``FrameTask`` runs that in the plot's reader pool and hands the ``Frame`` back
through a queued signal; ``CurvesImage`` shows it in the plot. ``app.ui.live_plot`` decides
when a frame is wanted.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg  # type: ignore[import-untyped]  # no stubs, no py.typed
from numpy.typing import NDArray
from PySide6.QtCore import QObject, QRectF, QRunnable, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QStyleOptionGraphicsItem, QWidget

from app.runtime.live_store import Key, LiveStore

log = logging.getLogger(__name__)

POINTS_PER_PIXEL = 1.0  # a min and a max per two pixel columns
PEN_WIDTH = 1.0  # 1.5 and up take the slow stroker: 100x longer at 24 h
Y_HEADROOM = 0.08  # space above the highest visible value
NICE_MANTISSAS = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)

Grid = tuple[NDArray[np.float64], NDArray[np.float32]]  # times (N,), values (S, N)


def read_grid(store: LiveStore, keys: Iterable[Key], since: float, until: float) -> Grid:
    """Every key's buckets in [since, until] on one grid of bucket starts (epoch s): values
    are float32 W, one row per key, NaN where nothing was measured or the key is unknown (a
    meter that has not reported yet). Any thread."""
    step = store.step_s
    first = math.floor(since / step)
    count = max(0, math.floor(until / step) - first + 1)
    keys = list(keys)
    values = np.full((len(keys), count), np.nan, dtype=np.float32)
    for row, key in enumerate(keys):
        try:
            times, series = store.series(key, since, until)
        except KeyError:
            continue
        at = np.rint(times / step).astype(np.int64) - first
        keep = (at >= 0) & (at < count)
        values[row, at[keep]] = series[keep]
    return (np.arange(first, first + count, dtype=np.float64) * step), values


def min_max_decimate(times: NDArray[np.float64], values: NDArray[np.float32], columns: int) -> Grid:
    """Reduce each row to its minimum and maximum per group of ``ceil(N / columns)`` samples
    (NaN ignored; an all-NaN group stays a gap). Rows short enough are returned as they are.
    One elementwise pass per sample in a group over every row at once: no per-row loop."""
    n = times.size
    if columns < 1 or n <= 2 * columns:
        return times, values
    k = -(-n // columns)
    groups = -(-n // k)
    low = values[:, 0::k].copy()
    high = low.copy()
    for j in range(1, k):
        part = values[:, j::k]
        width = part.shape[1]  # groups, or one less where the last group is short
        np.fmin(low[:, :width], part, out=low[:, :width])
        np.fmax(high[:, :width], part, out=high[:, :width])
    starts = times[::k]
    ends = times[np.minimum(np.arange(groups) * k + k - 1, n - 1)]
    x = np.empty(groups * 2, dtype=np.float64)
    x[0::2], x[1::2] = starts, ends
    y = np.empty((values.shape[0], groups * 2), dtype=np.float32)
    y[:, 0::2], y[:, 1::2] = low, high
    return x, y


@dataclass(frozen=True)
class PenSpec:
    color: str  # "#rrggbb"
    dashed: bool


@dataclass(frozen=True)
class FrameRequest:
    """What one frame shows: built on the GUI thread, made in the reader thread."""

    store: LiveStore
    keys: tuple[Key, ...]  # the series drawn (hidden ones left out)
    pens: tuple[PenSpec, ...]
    since: float  # the visible time range (epoch s)
    until: float
    margin: float  # the image reaches this much further either side
    width_px: int  # pixels of the visible range
    height_px: int
    pixel_ratio: float
    y_range: tuple[float, float] | None  # None: fit the visible data
    following: bool = False  # asked for while following live data


@dataclass(frozen=True)
class Frame:
    request: FrameRequest
    image: QImage | None  # transparent, curves only; row 0 at the top of the y range
    x_range: tuple[float, float]  # what the image spans
    y_range: tuple[float, float]
    x: NDArray[np.float64]  # decimated, shared by every row
    y: NDArray[np.float32]  # (series, points) W
    made_ms: float
    error: str = ""


def fit_y_range(values: NDArray[np.float32]) -> tuple[float, float]:
    """Power axis for these values: from 0 (or the lowest value, if negative: export) to a
    little above the highest; (0, 1) when nothing is finite."""
    if values.size == 0:
        return 0.0, 1.0
    low = float(np.fmin.reduce(values, axis=None))
    high = float(np.fmax.reduce(values, axis=None))
    if math.isnan(low):
        return 0.0, 1.0
    low, high = min(0.0, low), max(0.0, high)
    span = high - low or 1.0
    bottom = low - (Y_HEADROOM * span if low < 0 else 0.0)
    top = high + Y_HEADROOM * span
    # Round outwards to a round number: the axis (and its labels, which take the GUI thread
    # several ms to lay out again) changes only when the data crosses one, not every frame.
    return -nice_ceiling(-bottom) if bottom < 0 else 0.0, nice_ceiling(top)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k at or above ``value`` (> 0);
    0 for 0. Steps of at most a third, so the curves keep most of the height."""
    if value <= 0:
        return 0.0
    power = 10.0 ** math.floor(math.log10(value))
    for mantissa in NICE_MANTISSAS:
        candidate = mantissa * power
        if candidate >= value * (1 - 1e-9):
            return candidate
    return 10 * power


def render_curves(
    x: NDArray[np.float64],
    y: NDArray[np.float32],
    pens: Iterable[PenSpec],
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    size: tuple[int, int],
) -> QImage:
    """Paint each row of ``y`` over ``x`` into a transparent image of ``size`` pixels that
    spans ``x_range`` by ``y_range``, row 0 at ``y_range[0]`` (the plot's y axis points up, so
    it shows the image flipped: the right way round). NaN breaks a line. Any thread."""
    width, height = max(1, size[0]), max(1, size[1])
    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    x0, x1 = x_range
    y0, y1 = y_range
    px = (x - x0) * (width / max(x1 - x0, 1e-9))
    painter = QPainter(image)
    try:
        for row, spec in zip(range(y.shape[0]), pens, strict=False):
            py = (y[row].astype(np.float64) - y0) * (height / max(y1 - y0, 1e-9))
            pen = QPen(QColor(spec.color))
            pen.setWidthF(PEN_WIDTH)
            pen.setCosmetic(True)
            if spec.dashed:
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawPath(pg.arrayToQPath(px, py, connect="finite"))
    finally:
        painter.end()
    return image


def make_frame(request: FrameRequest) -> Frame:
    """Any thread: read, decimate, fit the power axis and paint one frame."""
    start = time.perf_counter()
    lo, hi = request.since - request.margin, request.until + request.margin
    times, values = read_grid(request.store, request.keys, lo, hi)
    span = max(request.until - request.since, 1e-9)
    image_width = max(1, round(request.width_px * (hi - lo) / span))
    columns = max(1, round(image_width * POINTS_PER_PIXEL / 2))
    x, y = min_max_decimate(times, values, columns)
    y_range = request.y_range
    if y_range is None:
        visible = (x >= request.since) & (x <= request.until)
        y_range = fit_y_range(y[:, visible])
    ratio = request.pixel_ratio
    image = None
    if request.keys:
        image = render_curves(
            x,
            y,
            request.pens,
            (lo, hi),
            y_range,
            (round(image_width * ratio), round(request.height_px * ratio)),
        )
    return Frame(request, image, (lo, hi), y_range, x, y, (time.perf_counter() - start) * 1000)


class FrameRelay(QObject):
    """Lives on the GUI thread; ``done`` is emitted by the reader thread (queued)."""

    done = Signal(object)


class FrameTask(QRunnable):
    def __init__(self, request: FrameRequest, relay: FrameRelay) -> None:
        super().__init__()
        self._request = request
        self._relay = relay

    def run(self) -> None:
        try:
            frame = make_frame(self._request)
        except Exception as exc:
            log.exception("live plot: making a frame failed")
            empty = np.zeros(0)
            frame = Frame(
                self._request,
                None,
                (0, 1),
                (0, 1),
                empty,
                np.zeros((0, 0), np.float32),
                0.0,
                error=f"{type(exc).__name__}: {exc}",
            )
        # RuntimeError: the plot was deleted meanwhile; nobody to show the frame to.
        with contextlib.suppress(RuntimeError):
            self._relay.done.emit(frame)


class CurvesImage(pg.GraphicsObject):  # type: ignore[misc]
    """Shows a frame's image over the data rectangle it was painted for (stretched while a
    new frame for a changed range is on its way)."""

    def __init__(self) -> None:
        super().__init__()
        self._image: QImage | None = None
        self._rect = QRectF()

    def set_image(self, image: QImage | None, rect: QRectF) -> None:
        self.prepareGeometryChange()
        self._image = image
        self._rect = rect
        self.update()

    def boundingRect(self) -> QRectF:
        return QRectF(self._rect)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self._image is not None and not self._rect.isEmpty():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            painter.drawImage(self._rect, self._image)
