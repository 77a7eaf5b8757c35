"""The site's terms as a setting: a person's line of ``NAME=FIRST..LAST`` entries is stored in
date order and typed back the same; bad dates, ends before starts, overlaps, twin or reserved
names and over-long terms are refused naming the entry; a hand-edited stored value is not used;
"current" and "last" pick the term around today and the latest one that ended."""

from __future__ import annotations

from datetime import date

import pytest

from app.queries.reports.period import Period
from app.queries.reports.terms import Term, TermRefused, parse_terms, pick_term
from app.services.settings import SPECS, TERMS, SettingRefused

SPEC = SPECS[TERMS]
TWO = "spring 2027=2027-02-22..2027-07-09; autumn 2026=2026-09-01..2027-01-20"


def test_terms_are_stored_in_date_order_and_typed_back() -> None:
    stored = SPEC.parse(f"  {TWO} ;", "CNY")
    assert stored == [
        {"name": "autumn 2026", "first": "2026-09-01", "last": "2027-01-20"},
        {"name": "spring 2027", "first": "2027-02-22", "last": "2027-07-09"},
    ]
    assert SPEC.usable(stored)
    assert SPEC.shown(stored, "CNY") == (
        "autumn 2026=2026-09-01..2027-01-20; spring 2027=2027-02-22..2027-07-09"
    )
    assert SPEC.parse(SPEC.shown(stored, "CNY"), "CNY") == stored


@pytest.mark.parametrize("text", ["", "none", " NONE "])
def test_none_clears_the_terms(text: str) -> None:
    assert SPEC.parse(text, "CNY") == []
    assert SPEC.shown([], "CNY") == "none"
    assert SPEC.default("CNY") == []


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("autumn 2026", "'autumn 2026' is not a term; give each as NAME=FIRST..LAST"),
        ("autumn=2026-09-01", "is not a term; give each as NAME=FIRST..LAST"),
        ("autumn=2026-09-01..2027-13-01", "term 'autumn': its last day '2027-13-01' is not a date"),
        ("autumn=2026-9-1..2027-01-20", "its first day '2026-9-1' is not a date"),
        ("=2026-09-01..2027-01-20", "is not a term"),
        ("autumn=2027-01-20..2026-09-01", "term 'autumn' ends (2026-09-01) before it starts"),
        ("long=2026-01-01..2027-06-30", "term 'long' has 546 days; a term is at most a year"),
        (
            "a=2026-09-01..2027-01-20; b=2027-01-20..2027-07-01",
            "terms 'a' (2026-09-01..2027-01-20) and 'b' (2027-01-20..2027-07-01) overlap",
        ),
        ("Autumn=2026-09-01..2026-12-01; autumn=2027-09-01..2027-12-01", "two terms are named"),
        ("current=2026-09-01..2027-01-20", "'current' cannot name a term"),
        ("LAST=2026-09-01..2027-01-20", "'LAST' cannot name a term"),
        ("x" * 41 + "=2026-09-01..2027-01-20", "is too long; at most 40"),
    ],
)
def test_bad_terms_are_refused_naming_the_entry(text: str, said: str) -> None:
    with pytest.raises(SettingRefused, match=r"^Terms: ") as caught:
        SPEC.parse(text, "CNY")
    assert said in str(caught.value)


def test_a_term_is_a_year_at_most() -> None:
    assert SPEC.parse("year=2026-09-01..2027-09-01", "CNY")[0]["last"] == "2027-09-01"  # 366 days
    with pytest.raises(SettingRefused, match="term 'year' has 367 days"):
        SPEC.parse("year=2026-09-01..2027-09-02", "CNY")


def test_too_many_terms_are_refused() -> None:
    text = "; ".join(f"t{n}={2000 + n}-01-01..{2000 + n}-01-31" for n in range(61))
    with pytest.raises(SettingRefused, match="61 terms are too many; give at most 60"):
        SPEC.parse(text, "CNY")


@pytest.mark.parametrize(
    "stored",
    [
        "autumn=2026-09-01..2027-01-20",  # text, not the stored list
        [{"name": "a", "first": "2026-09-01"}],
        [{"name": "a", "first": "2026-09-01", "last": "2026-08-01"}],
        [
            {"name": "a", "first": "2026-09-01", "last": "2026-12-01"},
            {"name": "b", "first": "2026-11-01", "last": "2027-01-01"},
        ],
    ],
)
def test_a_hand_edited_stored_value_is_not_used(stored: object) -> None:
    assert not SPEC.usable(stored)


TERMS_NOW = parse_terms(TWO)
AUTUMN, SPRING = TERMS_NOW


@pytest.mark.parametrize(
    ("which", "today", "term"),
    [
        ("current", date(2026, 9, 1), AUTUMN),
        ("current", date(2027, 1, 20), AUTUMN),
        ("current", date(2027, 2, 22), SPRING),
        ("last", date(2027, 1, 21), AUTUMN),  # the break after autumn
        ("last", date(2027, 3, 1), AUTUMN),
        ("last", date(2027, 8, 1), SPRING),  # the summer after spring
        ("Spring 2027", date(2026, 1, 1), SPRING),
        ("  autumn   2026 ", date(2030, 1, 1), AUTUMN),
    ],
)
def test_current_last_or_a_name_pick_a_term(which: str, today: date, term: Term) -> None:
    assert pick_term(TERMS_NOW, which, today) == term


@pytest.mark.parametrize(
    ("terms", "which", "today", "said"),
    [
        ((), "current", date(2027, 1, 1), "the site has no terms yet; a supervisor"),
        (
            TERMS_NOW,
            "current",
            date(2027, 2, 1),
            "today (2027-02-01) is in no term; the last one, 'autumn 2026', ended 2027-01-20; "
            "'spring 2027' starts 2027-02-22; give --term last",
        ),
        (TERMS_NOW, "last", date(2026, 10, 1), "no term ended before today (2026-10-01)"),
        (TERMS_NOW, "winter", date(2026, 10, 1), "there is no term 'winter'; the site's terms"),
    ],
)
def test_a_term_that_is_not_there_says_what_there_is(
    terms: tuple[Term, ...], which: str, today: date, said: str
) -> None:
    with pytest.raises(TermRefused) as caught:
        pick_term(terms, which, today)
    assert said in str(caught.value)


def test_a_term_is_a_period_of_whole_days() -> None:
    assert AUTUMN.period == Period(date(2026, 9, 1), date(2027, 1, 20))
    assert len(AUTUMN.period.days) == 142
