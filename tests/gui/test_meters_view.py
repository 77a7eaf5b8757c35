"""The Meters screen: filters by utility, bus and status, and search."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.views.main_window import MainWindow
from app.vocabulary import MeterStatus, Utility


def visible(window: MainWindow) -> list:  # type: ignore[type-arg]
    model = window.meters.list.model
    return [model.row_at(i) for i in range(model.rowCount())]


def test_ctrl_3_opens_meters_with_search_focused(qtbot, main_window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    qtbot.keyClick(main_window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert main_window.stack.currentWidget() is main_window.meters
    assert main_window.meters.list.search.hasFocus()
    assert main_window.meters.list.model.rowCount() == 360


def test_filters_combine(main_window: MainWindow) -> None:
    view = main_window.meters
    view.utility_filter.setCurrentIndex(view.utility_filter.findData(Utility.WATER.value))
    rows = visible(main_window)
    assert len(rows) == 120
    assert all(r.utility is Utility.WATER for r in rows)
    bus = rows[0].bus_name
    view.bus_filter.setCurrentIndex(view.bus_filter.findData(bus))
    rows = visible(main_window)
    assert rows
    assert all(r.bus_name == bus and r.utility is Utility.WATER for r in rows)
    assert len({r.address for r in rows}) == len(rows)


def test_bus_filter_lists_every_bus(main_window: MainWindow) -> None:
    combo = main_window.meters.bus_filter
    names = {combo.itemData(i) for i in range(1, combo.count())}
    assert len(names) == 10
    assert all(isinstance(n, str) and n.startswith("Block ") for n in names)


def test_search_by_address(main_window: MainWindow) -> None:
    view = main_window.meters
    target = visible(main_window)[5]
    view.list.search.setText(target.address)
    assert target.id in {r.id for r in visible(main_window)}
    assert view.list.current_id() == visible(main_window)[0].id


def test_the_status_filter_names_each_status(main_window: MainWindow) -> None:
    combo = main_window.meters.status_filter
    names = {combo.itemData(i): combo.itemText(i) for i in range(1, combo.count())}
    assert names == {
        MeterStatus.ACTIVE.value: "Online",
        MeterStatus.OFFLINE.value: "Offline",
        MeterStatus.DISABLED.value: "Disabled",
        MeterStatus.REMOVED.value: "Removed",
    }
