"""The site's account number sequence: one above the highest numeric number, whoever took it
(the counter, an import, the demo)."""

from __future__ import annotations

import pytest

from app.services.account_life import FIRST_NUMBER, next_account_number


@pytest.mark.parametrize(
    ("numbers", "expected"),
    [
        ([], FIRST_NUMBER),
        (["100005", "100002"], 100006),
        (["42"], FIRST_NUMBER),  # below the sequence: it starts at FIRST_NUMBER all the same
        (["A-7", "100010", "２００００１", " 200000"], 100011),  # not plain ASCII digits: skipped
        (["900000"], 900001),
    ],
)
def test_the_next_number_follows_the_highest_numeric_one(numbers: list[str], expected: int) -> None:
    assert next_account_number(numbers) == expected
    assert next_account_number(iter(numbers)) == expected  # any iterable, read once
