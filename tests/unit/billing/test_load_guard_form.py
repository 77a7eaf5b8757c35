"""The load-guard form's bands as one line (``30-300 no; 700-3000 yes``): written from the
params' fields, read back to the rows ``load_guard_from_fields`` takes, with the words that mark
a band as controlled."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.billing.file_problems import FileProblemsError
from app.billing.load_guard import GuardMode, LoadGuardParams, PowerBand
from app.billing.load_guard_form import (
    bands_from_text,
    bands_to_text,
    load_guard_from_fields,
    load_guard_to_fields,
)

PARAMS = LoadGuardParams(
    total_mode=GuardMode.TRIP,
    total_limit_w=4000,
    total_duration_s=30,
    increment_mode=GuardMode.TRIP,
    bands=(PowerBand(30, 300, False), PowerBand(300, 700, False), PowerBand(700, 3000, True)),
    pf_threshold=0.95,
)


def test_the_bands_are_written_on_one_line() -> None:
    fields = load_guard_to_fields(PARAMS)
    assert bands_to_text(fields["bands"]) == "30-300 no; 300-700 no; 700-3000 yes"
    assert bands_to_text([]) == ""


def test_the_line_reads_back_to_the_same_params() -> None:
    fields = load_guard_to_fields(PARAMS)
    fields["bands"] = bands_from_text(bands_to_text(fields["bands"]))
    assert load_guard_from_fields(**fields) == PARAMS


@pytest.mark.parametrize("word", ["yes", "YES", "y", "True", "1", "是"])
def test_a_yes_word_marks_a_band_controlled(word: str) -> None:
    assert bands_from_text(f"700-3000 {word}") == [("700", "3000", True)]


@pytest.mark.parametrize("word", ["no", "n", "false", "0", "否", "maybe"])
def test_any_other_word_leaves_it_uncontrolled(word: str) -> None:
    assert bands_from_text(f"30-300 {word}") == [("30", "300", False)]


def test_a_band_without_a_word_is_controlled_and_empty_parts_are_skipped() -> None:
    assert bands_from_text(" 30-300 ;; 300-700 no extra ; ") == [
        ("30", "300", True),
        ("300", "700", False),
    ]
    assert bands_from_text("") == []


def test_a_band_without_a_dash_is_left_for_the_form_to_refuse() -> None:
    """The numbers are not checked here: ``load_guard_from_fields`` names the band and column."""
    rows = bands_from_text("3000 yes")
    assert rows == [("3000", "", True)]
    fields = load_guard_to_fields(PARAMS)
    fields["bands"] = rows
    with pytest.raises(FileProblemsError) as raised:
        load_guard_from_fields(**fields)
    assert [key for key, _ in raised.value.pairs()] == ["bands[1].to_w"]


NUMBER = st.from_regex(r"[0-9]{1,7}(\.[0-9]{1,3})?", fullmatch=True)


@given(st.lists(st.tuples(NUMBER, NUMBER, st.booleans()), max_size=8))
def test_what_is_written_reads_back_the_same(rows: list[tuple[str, str, bool]]) -> None:
    assert bands_from_text(bands_to_text(rows)) == rows
