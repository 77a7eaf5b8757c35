"""What a person types into a set-up form or command: a whole number takes the ASCII digits
0-9 only and a bounded count of them (a superscript two or 5,000 digits is a refusal, never a
ValueError), and a name or note never carries an invisible control character (PostgreSQL
refuses NUL; the others garble screens and receipts)."""

from __future__ import annotations

import pytest

from app.services.setup_checks import SetupRefused, clean_text, whole_number


@pytest.mark.parametrize("typed", ["²", "٣", "9" * 5000, "-" + "9" * 40, "1.5", ""])
def test_a_whole_number_that_is_not_plain_digits_is_refused_with_a_message(typed: str) -> None:
    with pytest.raises(SetupRefused) as refused:
        whole_number(typed, "floor", "floor", -5, 200)
    assert refused.value.field == "floor"
    assert len(str(refused.value)) < 200  # 5,000 digits are not repeated back


def test_a_whole_number_in_range_is_taken() -> None:
    assert whole_number(" 12 ", "floor", "floor", -5, 200) == 12
    assert whole_number("-3", "floor", "floor", -5, 200) == -3


@pytest.mark.parametrize("typed", ["x\x00y", "Bad\x07Name", "esc\x1b[31m", "\ud800"])
def test_a_name_with_a_control_character_is_refused(typed: str) -> None:
    with pytest.raises(SetupRefused, match="control character"):
        clean_text(typed, "name", "building name", 60)


def test_a_note_keeps_its_line_breaks() -> None:
    assert clean_text(" one \n two  three ", "note", "note", 60, lines=True) == "one\ntwo three"
