"""Charts screen: live power from a real LiveStore fed with Snapshots (overlay, updates, pause,
flood guard, CSV and PNG export) and history bars from readings stored in the demo database."""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from sqlalchemy import select

from app.application import make_application
from app.hardware.snapshot import Quality, Snapshot
from app.queries.history import Resolution, TargetKind
from app.queries.site_facts import power_groups
from app.runtime.live_store import LiveStore
from app.store.database import Database
from app.store.models import Building, IntervalReading, Meter
from app.ui import save_file
from app.ui.background import wait_for_background
from app.ui.live_frames import fit_y_range, min_max_decimate
from app.ui.live_plot import LivePlot
from app.views.charts_view import ChartsView
from app.vocabulary import ReadingQuality, Utility

STEP_S = 5
HISTORY_S = 600  # ten minutes of samples before "now"
WAIT_MS = 10_000
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the demo site's zone
DAY = date(2026, 3, 2)


def snapshot(meter_id: int, at_s: float, power_w: float) -> Snapshot:
    return Snapshot(
        meter_id,
        str(meter_id),
        at_s,
        datetime.fromtimestamp(at_s, UTC),
        Quality.GOOD,
        power_w=power_w,
    )


def power_of(meter_id: int, bucket: int) -> float:
    """A distinct, exactly representable value per meter and bucket."""
    return float(100 * meter_id + (bucket % 97) + 0.5)


@pytest.fixture
def meters(demo_db: Database) -> dict[str, list[int]]:
    return power_groups(demo_db)


@pytest.fixture
def live(meters: dict[str, list[int]]) -> tuple[LiveStore, float]:
    """A store with ten minutes of samples of the first 8 meters of floor A-1, and the bucket
    start of the newest sample."""
    store = LiveStore(step_s=STEP_S, hours=1)
    store.define_groups(meters)
    newest = math.floor(time.time() / STEP_S) * STEP_S
    ids = meters["floor:A-1"][:8]
    batch = [
        snapshot(m, t, power_of(m, int(t // STEP_S)))
        for t in range(int(newest - HISTORY_S), int(newest) + 1, STEP_S)
        for m in ids
    ]
    store.feed(batch)
    return store, float(newest)


@pytest.fixture
def view(qtbot, demo_db: Database) -> Iterator[ChartsView]:  # type: ignore[no-untyped-def]
    make_application()
    widget = ChartsView(demo_db)
    qtbot.addWidget(widget)
    widget.resize(1280, 760)
    widget.show()
    with qtbot.waitSignal(widget.names_loaded, timeout=WAIT_MS):
        widget.reload()
    yield widget
    widget.shutdown()
    wait_for_background()


def drawn(plot: LivePlot, key: int | str) -> dict[float, float]:
    """Bucket time -> W of what the plot drew for a series (finite values only)."""
    x, y = plot.curve_data(key)
    return {float(t): float(v) for t, v in zip(x, y, strict=True) if not math.isnan(v)}


def stored(store: LiveStore, key: int | str) -> dict[float, float]:
    times, values = store.series(key)
    return {float(t): float(v) for t, v in zip(times, values, strict=True) if not math.isnan(v)}


def wait_for_frame(qtbot, plot: LivePlot) -> None:  # type: ignore[no-untyped-def]
    before = plot.frames_drawn
    plot.redraw()
    qtbot.waitUntil(lambda: plot.frames_drawn > before, timeout=WAIT_MS)


# -- live -------------------------------------------------------------------------------------


def test_the_site_series_is_drawn_from_the_store(qtbot, view: ChartsView, live) -> None:  # type: ignore[no-untyped-def]
    store, _newest = live
    assert view.plot.series_keys() == ["site"]
    view.attach_live(store)
    qtbot.waitUntil(lambda: len(drawn(view.plot, "site")) > 0, timeout=WAIT_MS)
    # An hour of 5 s buckets is fewer points than the plot has pixels: drawn as stored.
    assert drawn(view.plot, "site") == stored(store, "site")
    assert len(stored(store, "site")) == HISTORY_S // STEP_S + 1
    assert view.plot.series_label("site") == "Site"
    lo, hi = view.plot.power_range()
    assert lo == 0
    assert hi > max(stored(store, "site").values())


def test_new_samples_are_drawn(qtbot, view: ChartsView, live) -> None:  # type: ignore[no-untyped-def]
    store, newest = live
    meter = first_meter(store)
    view.add_series(meter)
    view.attach_live(store)
    qtbot.waitUntil(lambda: newest in drawn(view.plot, meter), timeout=WAIT_MS)
    store.feed([snapshot(meter, newest, 123_456.0)])  # the newest bucket again: last wins
    qtbot.waitUntil(lambda: drawn(view.plot, meter).get(newest) == 123_456.0, timeout=WAIT_MS)
    assert drawn(view.plot, "site") == stored(store, "site")


def first_meter(store: LiveStore) -> int:
    return min(k for k in store.keys() if isinstance(k, int))  # noqa: SIM118 (not a dict)


def test_overlaid_series_have_their_own_colours_and_data(
    qtbot, view: ChartsView, live, meters
) -> None:  # type: ignore[no-untyped-def]
    store, _newest = live
    meter = meters["floor:A-1"][0]
    assert view.add_series("building:A")
    assert view.add_series(meter)
    assert not view.add_series(meter)  # shown once
    view.attach_live(store)
    keys = ["site", "building:A", meter]
    assert view.plot.series_keys() == keys
    assert len({view.plot.series_color(k).name() for k in keys}) == 3
    assert [view.series_list.item(i).text() for i in range(3)] == [
        "Site",
        "Building A",
        "EA01001 · A-101",
    ]
    assert [e.label for e in view.plot.legend.entries] == [
        "Site",
        "Building A",
        "EA01001 · A-101",
    ]
    qtbot.waitUntil(lambda: all(drawn(view.plot, k) for k in keys), timeout=WAIT_MS)
    for key in keys:
        assert drawn(view.plot, key) == stored(store, key)
    assert stored(store, "site") == stored(store, "building:A")  # only block A has samples
    view.series_list.setCurrentRow(1)
    view.remove_current_series()
    assert view.plot.series_keys() == ["site", meter]
    assert [e.key for e in view.plot.legend.entries] == ["site", meter]


def test_clicking_a_legend_entry_hides_and_shows_its_series(qtbot, view: ChartsView, live) -> None:  # type: ignore[no-untyped-def]
    store, _newest = live
    view.add_series("building:A")
    view.attach_live(store)
    qtbot.waitUntil(lambda: bool(drawn(view.plot, "building:A")), timeout=WAIT_MS)
    legend = view.plot.legend
    canvas = view.plot.plot_widget

    def click(key: object) -> None:
        rect = next(r for r, k in legend._hits if k == key)
        at = canvas.mapFromScene(legend.mapToScene(rect.center()))
        qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=at)

    click("building:A")
    assert not view.plot.series_visible("building:A")
    assert [e.visible for e in legend.entries] == [True, False]
    qtbot.waitUntil(lambda: not drawn(view.plot, "building:A"), timeout=WAIT_MS)
    assert drawn(view.plot, "site")
    click("building:A")
    assert view.plot.series_visible("building:A")
    qtbot.waitUntil(lambda: bool(drawn(view.plot, "building:A")), timeout=WAIT_MS)
    legend.set_entries(legend.entries, 2.0)  # moved to a high-density screen: drawn again
    assert legend._pixmap is not None
    assert legend._pixmap.devicePixelRatio() == 2.0


def test_a_series_is_added_by_searching_its_name(qtbot, view: ChartsView) -> None:  # type: ignore[no-untyped-def]
    # setText, not typing: the completer's popup cannot open on the offscreen platform.
    view.focus_search()
    assert view.search.hasFocus()
    view.search.setText("Floor B-2")
    qtbot.keyClick(view.search, Qt.Key.Key_Return)
    assert view.plot.series_keys() == ["site", "floor:B-2"]
    assert view.search.text() == ""
    view.search.setText("A-105")  # a room: its electricity meter
    qtbot.keyClick(view.search, Qt.Key.Key_Return)
    assert view.plot.series_label(view.plot.series_keys()[-1]) == "EA01005 · A-105"
    view.search.setText("no such thing")
    qtbot.keyClick(view.search, Qt.Key.Key_Return)
    assert "No series matches" in view.live_status.text()
    assert len(view.plot.series_keys()) == 3


def test_pause_stops_drawing_and_resume_follows_again(qtbot, view: ChartsView, live) -> None:  # type: ignore[no-untyped-def]
    store, newest = live
    meter = first_meter(store)
    view.add_series(meter)
    view.attach_live(store)
    qtbot.waitUntil(lambda: newest in drawn(view.plot, meter), timeout=WAIT_MS)
    before = drawn(view.plot, meter)[newest]
    qtbot.mouseClick(view.pause_button, Qt.MouseButton.LeftButton)
    assert view.plot.paused
    assert not view.plot.following
    assert view.follow_button.isEnabled()
    frames = view.plot.frames_drawn
    store.feed([snapshot(meter, newest, 9_999.0)])
    qtbot.wait(800)  # four redraw ticks
    assert view.plot.frames_drawn == frames
    assert drawn(view.plot, meter)[newest] == before
    qtbot.mouseClick(view.pause_button, Qt.MouseButton.LeftButton)
    assert view.plot.following
    qtbot.waitUntil(lambda: drawn(view.plot, meter).get(newest) == 9_999.0, timeout=WAIT_MS)


def test_the_range_box_sets_the_followed_window(qtbot, view: ChartsView, live) -> None:  # type: ignore[no-untyped-def]
    store, _newest = live
    view.attach_live(store)
    view.range_box.setCurrentIndex(0)
    view.range_box.activated.emit(0)
    assert view.plot.window_s == 15 * 60
    wait_for_frame(qtbot, view.plot)
    lo, hi = view.plot.visible_range()
    assert hi - lo == pytest.approx(15 * 60)
    view.plot.show_range(lo - 3600, hi)  # like a mouse zoom: stops following
    assert not view.plot.following
    assert "not following" in view.live_status.text()
    qtbot.mouseClick(view.follow_button, Qt.MouseButton.LeftButton)
    assert view.plot.following


def test_the_flood_guard_engages_on_too_many_series(qtbot, view: ChartsView, live, meters) -> None:  # type: ignore[no-untyped-def]
    store, _newest = live
    view.attach_live(store)
    view.plot.max_series = 3
    for meter in meters["floor:A-1"][:3]:
        view.add_series(meter)
    assert view.plot.flood_guard_active
    assert view.plot.banner.isVisible()
    text = view.plot.banner_text.text()
    assert "Drawing paused: 4 series are more than this PC draws smoothly" in text
    assert "Remove some series" in text
    frames = view.plot.frames_drawn
    view.plot.redraw()
    assert view.plot.frames_drawn == frames
    view.remove_series("site")
    assert not view.plot.flood_guard_active
    assert not view.plot.banner.isVisible()
    wait_for_frame(qtbot, view.plot)


def test_the_flood_guard_engages_when_frames_are_slow(qtbot, view: ChartsView, live) -> None:  # type: ignore[no-untyped-def]
    store, _newest = live
    plot = view.plot
    plot.frame_budget_ms = -1.0  # every frame counts as too slow
    with qtbot.waitSignal(plot.flood_guard_changed, timeout=WAIT_MS) as engaged:
        view.attach_live(store)

        def engaged_yet() -> bool:  # frames come from these asks and from the plot's timer
            if not plot.flood_guard_active:
                plot.tick()  # count a frame shown but not painted yet
                plot.redraw()
            return plot.flood_guard_active

        qtbot.waitUntil(engaged_yet, timeout=WAIT_MS)
    assert engaged.args == [True]
    assert plot.flood_guard_active
    assert plot.frames_drawn == plot.slow_frames
    assert plot.flood_reason.startswith("Drawing paused: the last 3 frames took about")
    assert "Remove some series or choose a shorter range" in plot.banner_text.text()
    plot.redraw()
    assert plot.frames_drawn == plot.slow_frames
    plot.frame_budget_ms = 1e9
    qtbot.mouseClick(plot.retry_button, Qt.MouseButton.LeftButton)
    assert not plot.flood_guard_active
    wait_for_frame(qtbot, plot)


def test_csv_export_holds_the_store_values_in_local_time(
    qtbot, view: ChartsView, live, meters, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    store, newest = live
    meter = meters["floor:A-1"][1]
    view.add_series(meter)
    view.attach_live(store)
    qtbot.waitUntil(lambda: newest in drawn(view.plot, meter), timeout=WAIT_MS)
    path = tmp_path / "live.csv"
    rows = view.export_csv(path)
    with path.open(encoding="utf-8") as f:
        table = list(csv.reader(f))
    assert table[0] == ["time", "Site (W)", "EA01002 · A-102 (W)"]
    assert len(table) == rows + 1
    lo, hi = view.plot.visible_range()
    assert rows == math.floor(hi / STEP_S) - math.floor(lo / STEP_S) + 1
    seen = {}
    for when, site_w, meter_w in table[1:]:
        moment = datetime.fromisoformat(when)
        assert (
            moment.utcoffset()
            == datetime.fromtimestamp(moment.timestamp()).astimezone().utcoffset()
        )
        seen[moment.timestamp()] = (site_w, meter_w)
    for key, column in (("site", 0), (meter, 1)):
        values = stored(store, key)
        assert {t: float(np.float32(v[column])) for t, v in seen.items() if v[column]} == values
    assert seen[newest][1] == str(power_of(meter, int(newest // STEP_S)))


def test_export_through_the_file_dialog_writes_off_the_gui_thread(
    qtbot, view: ChartsView, live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    store, _newest = live
    view.attach_live(store)
    qtbot.waitUntil(lambda: view.plot.frames_drawn > 0, timeout=WAIT_MS)
    chosen = [tmp_path / "via-dialog.csv"]
    monkeypatch.setattr(
        save_file.QFileDialog, "getSaveFileName", lambda *_args: (str(chosen[0]), "")
    )
    qtbot.mouseClick(view.csv_button, Qt.MouseButton.LeftButton)
    assert view.live_status.text().startswith("Saving to")
    qtbot.waitUntil(lambda: "rows saved to" in view.live_status.text(), timeout=WAIT_MS)
    assert chosen[0].read_text(encoding="utf-8").startswith("time,Site (W)")
    chosen[0] = tmp_path / "no such folder" / "live.csv"
    qtbot.mouseClick(view.csv_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: view.live_status.text() == "Not saved: No such file or directory",
        timeout=WAIT_MS,
    )


def test_png_export_writes_the_plot(qtbot, view: ChartsView, live, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, _newest = live
    view.attach_live(store)
    qtbot.waitUntil(lambda: view.plot.frames_drawn > 0, timeout=WAIT_MS)
    path = tmp_path / "live.png"
    assert view.export_png(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(path))
    assert not image.isNull()
    assert image.width() == view.plot.plot_widget.width()


def test_min_max_decimation_keeps_every_peak() -> None:
    times = np.arange(1000, dtype=np.float64)
    values = np.ones((2, 1000), dtype=np.float32)
    values[0, 123] = 50.0
    values[1, 500:600] = np.nan
    x, y = min_max_decimate(times, values, 100)
    assert x.size == 200
    assert float(np.nanmax(y[0])) == 50.0
    assert int(np.isnan(y[1]).sum()) == 20  # ten all-gap groups stay gaps (min and max)


# -- history ------------------------------------------------------------------------------------


def local(hour: int, minute: int = 0) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, tzinfo=SHANGHAI) + timedelta(
        hours=hour, minutes=minute
    )


def add_readings(db: Database, serial: str, readings: list[tuple[datetime, int]]) -> int:
    with db.transaction() as session:
        meter_id = session.scalar(select(Meter.id).where(Meter.serial == serial))
        assert meter_id is not None
        session.add_all(
            IntervalReading(
                meter_id=meter_id, read_at=at, register_units=units, quality=ReadingQuality.GOOD
            )
            for at, units in readings
        )
        return meter_id


def test_history_bars_per_hour_for_a_meter(
    qtbot, view: ChartsView, demo_db: Database, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # Hour h uses (h + 1) * 100 Wh, read every 15 minutes through the local day.
    registers = [10_000]
    for hour in range(24):
        registers += [registers[-1] + (hour + 1) * 25 * q for q in (1, 2, 3, 4)]
    readings = [(local(0, 15 * i), units) for i, units in enumerate(registers)]
    meter_id = add_readings(demo_db, "EA01001", readings)
    view.tabs.setCurrentIndex(1)
    view.history.set_history(
        TargetKind.METER, meter_id, Utility.ELECTRICITY, DAY, DAY, Resolution.HOUR
    )
    assert not view.history.utility_box.isEnabled()  # a meter's utility is its own
    with qtbot.waitSignal(view.history.loaded, timeout=WAIT_MS) as answer:
        qtbot.mouseClick(view.history.show_button, Qt.MouseButton.LeftButton)
        assert view.history.busy.isVisible()
    bars = answer.args[0]
    assert bars is view.history.bars
    assert bars.amounts == tuple((h + 1) / 10 for h in range(24))
    assert list(view.history.bar_item.opts["height"]) == [(h + 1) / 10 for h in range(24)]
    assert not view.history.busy.isVisible()
    assert view.history.totals.text().startswith(
        "Total 30.000 kWh · highest 2.400 kWh (2026-03-02 23:00)"
    )
    assert view.history.bar_plot.getPlotItem().getAxis("left").labelText == "kWh"
    path = tmp_path / "history.csv"
    assert view.history.export_history_csv(path) == 24
    with path.open(encoding="utf-8") as f:
        table = list(csv.reader(f))
    assert table[0] == ["start", "end", "kWh", "coverage", "estimated"]
    assert table[1] == ["2026-03-02T00:00+08:00", "2026-03-02T01:00+08:00", "0.1", "1.000", ""]
    assert table[24][2] == "2.4"


def test_history_bars_per_day_for_a_building_pick_one_utility(
    qtbot, view: ChartsView, demo_db: Database
) -> None:  # type: ignore[no-untyped-def]
    day2 = local(24)
    add_readings(demo_db, "EA01001", [(local(0), 0), (day2, 3_000), (local(48), 7_500)])
    add_readings(demo_db, "EA01003", [(local(0), 500), (day2, 1_500), (local(48), 2_000)])
    add_readings(demo_db, "WA01002", [(local(0), 20_000), (day2, 20_250), (local(48), 20_500)])
    with demo_db.session() as session:
        block_a = session.scalar(select(Building.id).where(Building.code == "A"))
    view.tabs.setCurrentIndex(1)
    view.history.set_history(
        TargetKind.BUILDING,
        block_a,
        Utility.ELECTRICITY,
        DAY,
        DAY + timedelta(days=1),
        Resolution.DAY,
    )
    assert view.history.utility_box.isEnabled()
    with qtbot.waitSignal(view.history.loaded, timeout=WAIT_MS) as power:
        view.history.show_history()
    assert power.args[0].amounts == (4.0, 5.0)
    assert "Total 9.000 kWh" in view.history.totals.text()
    view.history.utility_box.setCurrentIndex(view.history.utility_box.findData(Utility.WATER.value))
    with qtbot.waitSignal(view.history.loaded, timeout=WAIT_MS) as water:
        view.history.show_history()
    assert water.args[0].amounts == (0.25, 0.25)
    assert "Total 0.500 m³" in view.history.totals.text()
    assert view.history.bar_plot.getPlotItem().getAxis("left").labelText == "m³"


def test_a_refused_history_says_why(qtbot, view: ChartsView) -> None:  # type: ignore[no-untyped-def]
    view.history.set_history(
        TargetKind.SITE, None, Utility.ELECTRICITY, DAY, DAY - timedelta(days=3), Resolution.DAY
    )
    with qtbot.waitSignal(view.history.loaded, timeout=WAIT_MS) as answer:
        view.history.show_history()
    assert answer.args == [None]
    assert "before it starts" in view.history.totals.text()


def test_the_power_axis_fits_the_data_to_a_round_number() -> None:
    """The axis ends on a round number above the data (with headroom), so it stays put while
    the load moves within it instead of laying its labels out again every frame."""
    for high in (0.4, 1.0, 97.0, 999.0, 1234.5, 58_000.0):
        low, top = fit_y_range(np.array([[0.0, high]], np.float32))
        assert low == 0.0
        assert high * 1.08 <= top * (1 + 1e-6) <= high * 1.08 * 4 / 3 * (1 + 1e-6)
        mantissa = top / 10 ** math.floor(math.log10(top))
        assert round(mantissa, 6) in {1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0}
    assert fit_y_range(np.array([[1000.0, 1010.0]], np.float32)) == fit_y_range(
        np.array([[1000.0, 1100.0]], np.float32)
    )  # small moves keep the same axis
    low, top = fit_y_range(np.array([[-200.0, 1000.0]], np.float32))
    assert (low, top) == (-300.0, 1200.0)  # export below zero gets a round floor too
    assert fit_y_range(np.zeros((1, 0), np.float32)) == (0.0, 1.0)


def test_the_history_range_starts_as_the_sites_last_seven_days(view: ChartsView) -> None:
    today = datetime.now(SHANGHAI).date()  # the demo site's zone, whatever this PC's is
    assert view.history.last_day.date().toPython() == today
    assert view.history.first_day.date().toPython() == today - timedelta(days=6)
