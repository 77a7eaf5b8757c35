"""The Accounts screen driven with the keyboard, as a cashier would."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.queries.accounts import list_accounts
from app.views.main_window import MainWindow
from app.vocabulary import SupplyState


def visible_rows(window: MainWindow) -> list:  # type: ignore[type-arg]
    model = window.accounts.list.model
    return [model.row_at(i) for i in range(model.rowCount())]


def test_lists_every_account_with_counts(main_window: MainWindow) -> None:
    view = main_window.accounts
    assert view.list.model.rowCount() == 240
    assert "240" in view.list.count_label.text()
    assert "240 accounts" in main_window.counts_label.text()
    assert "360 meters" in main_window.counts_label.text()


def test_two_keystrokes_find_a_room_and_show_it(qtbot, main_window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    view = main_window.accounts
    qtbot.keyClick(main_window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)  # Accounts
    qtbot.keyClick(main_window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert view.list.search.hasFocus()
    with qtbot.waitSignal(view.detail._stack.currentChanged, timeout=5000, raising=False):
        qtbot.keyClicks(view.list.search, "B-6")
    rows = visible_rows(main_window)
    assert len(rows) == 20
    assert all(r.room_label.startswith("B-6") for r in rows)
    qtbot.waitUntil(
        lambda: view.detail.shown is not None and view.detail.shown.row.id == rows[0].id,
        timeout=5000,
    )
    assert view.detail.title.text() == rows[0].holder_name
    assert rows[0].number in view.detail.fields["account"].text()
    # Enter moves into the table on the first match; Esc in the search field clears it.
    qtbot.keyClick(view.list.search, Qt.Key.Key_Return)
    assert view.list.table.hasFocus()
    assert view.list.current_id() == rows[0].id
    view.list.search.setFocus()
    qtbot.keyClick(view.list.search, Qt.Key.Key_Escape)
    assert view.list.search.text() == ""
    assert view.list.model.rowCount() == 240


def test_search_by_name_account_and_meter_number(qtbot, main_window: MainWindow, demo_db) -> None:  # type: ignore[no-untyped-def]
    view = main_window.accounts
    target = list_accounts(demo_db)[57]
    for text in (target.number, target.meter_serials[0], target.holder_name.split()[-1]):
        view.list.search.setText(text)
        assert target.id in {r.id for r in visible_rows(main_window)}, text
    surname = target.holder_name.split()[0].lower()
    view.list.search.setText(surname)
    assert all(
        surname in r.holder_name.lower()
        or surname in r.number
        or any(surname in s.lower() for s in r.meter_serials)
        or surname in r.room_label.lower()
        or surname in r.holder_ref
        for r in visible_rows(main_window)
    )


def test_state_filter_shows_only_cut_off_accounts(main_window: MainWindow, demo_db) -> None:  # type: ignore[no-untyped-def]
    view = main_window.accounts
    expected = {r.id for r in list_accounts(demo_db) if r.supply_state is SupplyState.CUT_OFF}
    assert expected, "the demo site has accounts in arrears"
    view.state_filter.setCurrentIndex(view.state_filter.findData("cut_off"))
    assert {r.id for r in visible_rows(main_window)} == expected
    assert f"{len(expected)} of 240" in view.list.count_label.text()


def test_sort_by_balance_puts_debtors_first(main_window: MainWindow) -> None:
    view = main_window.accounts
    view.list.table.sortByColumn(4, Qt.SortOrder.AscendingOrder)
    balances = [r.balance_minor for r in visible_rows(main_window)]
    assert balances == sorted(balances)
    assert balances[0] < 0
    first = view.list.model.index(0, 4).data()
    assert first.startswith("-¥")
    assert view.list.model.index(0, 4).data(Qt.ItemDataRole.ForegroundRole) is not None


def test_selection_survives_reload(qtbot, main_window: MainWindow) -> None:  # type: ignore[no-untyped-def]
    view = main_window.accounts
    view.list.search.setText("A-510")
    chosen = view.list.current_id()
    view.list.search.clear()
    assert view.list.current_id() == chosen
    with qtbot.waitSignal(view.rows_loaded, timeout=5000):
        view.reload()
    assert view.list.current_id() == chosen
