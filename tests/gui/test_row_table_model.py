"""RowTableModel: filtering, sorting, precise updates, and Qt's model contract."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt

from app.ui.row_table_model import RIGHT, ROW_ROLE, Column, RowTableModel, prepare_rows


@dataclass(frozen=True)
class Item:
    id: int
    name: str
    amount: int


ROWS = [
    Item(1, "Zhang Wei", 300),
    Item(2, "Li Na", -50),
    Item(3, "Wang Fang", 120),
    Item(4, "Zhang Min", 0),
]


def make_model() -> RowTableModel:
    model = RowTableModel(
        [
            Column("Name", lambda r: r.name),
            Column("Amount", lambda r: str(r.amount), sort_key=lambda r: r.amount, align=RIGHT),
        ]
    )
    model.install(prepare_rows(ROWS, lambda r: r.name))
    return model


def names(model: RowTableModel) -> list[str]:
    return [model.index(i, 0).data() for i in range(model.rowCount())]


def test_passes_qt_model_tester(qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    model = make_model()
    qtmodeltester.check(model, force_py=True)
    model.set_filter_text("zhang")
    qtmodeltester.check(model, force_py=True)


def test_filter_terms_are_case_insensitive_and_combined() -> None:
    model = make_model()
    model.set_filter_text("ZHANG")
    assert names(model) == ["Zhang Wei", "Zhang Min"]
    model.set_filter_text("zhang  min")
    assert names(model) == ["Zhang Min"]
    model.set_filter_text("nobody")
    assert model.rowCount() == 0
    model.set_filter_text("")
    assert model.rowCount() == 4


def test_predicate_and_text_filter_combine() -> None:
    model = make_model()
    model.set_predicate(lambda r: r.amount > 0)
    model.set_filter_text("zhang")
    assert names(model) == ["Zhang Wei"]


def test_sort_uses_sort_key_and_keeps_persistent_indexes() -> None:
    model = make_model()
    persistent = model.index(1, 0)  # Li Na
    from PySide6.QtCore import QPersistentModelIndex

    keep = QPersistentModelIndex(persistent)
    model.sort(1, Qt.SortOrder.AscendingOrder)
    assert names(model) == ["Li Na", "Zhang Min", "Wang Fang", "Zhang Wei"]
    assert keep.data() == "Li Na"
    assert keep.row() == 0
    model.sort(1, Qt.SortOrder.DescendingOrder)
    assert names(model)[0] == "Zhang Wei"
    assert keep.row() == 3


def test_replace_row_emits_data_changed_for_that_row_only(qtbot) -> None:  # type: ignore[no-untyped-def]
    model = make_model()
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    with qtbot.waitSignal(model.dataChanged) as blocker:
        assert model.replace_row(Item(3, "Wang Fang", 999), "Wang Fang")
    top, bottom = blocker.args[0], blocker.args[1]
    assert top.row() == bottom.row() == 2
    assert model.index(2, 1).data() == "999"
    assert model.index(2, 0).data(ROW_ROLE) == Item(3, "Wang Fang", 999)
    assert not resets
    assert not model.replace_row(Item(42, "Nobody", 1), "Nobody")


def test_alignment_and_row_lookup() -> None:
    model = make_model()
    assert model.index(0, 1).data(Qt.ItemDataRole.TextAlignmentRole) == int(RIGHT.value)
    model.set_filter_text("wang")
    assert model.row_of_id(3) == 0
    assert model.row_of_id(1) is None
