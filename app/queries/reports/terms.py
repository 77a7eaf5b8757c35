"""The site's terms (semesters): named ranges of whole days in the site's calendar, such as
``autumn 2026=2026-09-01..2027-01-20``, so that a report can cover "this term" or "last term".

They are one site setting (``app.services.settings``, key ``terms``), typed by a person as one
line: ``NAME=FIRST..LAST`` entries separated by ``;`` (or ``none`` for no terms), stored as a
JSON list of ``{"name", "first", "last"}`` in date order. Names are unique without regard to
case, and two terms never share a day: a day belongs to at most one term, so "this term" is
never a choice between two.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

from app.queries.reports.period import Period

MAX_TERMS = 60  # twenty years of three terms
MAX_NAME = 40
MAX_TERM_DAYS = 366
NO_TERMS = "none"
CURRENT, LAST = "current", "last"  # what --term says besides a name
_ENTRY = re.compile(r"(?P<name>[^=;]+)=(?P<first>[^.;]+)\.\.(?P<last>[^;]+)")
EXAMPLE = "autumn 2026=2026-09-01..2027-01-20; spring 2027=2027-02-22..2027-07-09"


class TermRefused(ValueError):
    """Terms that cannot be used, or a term that is not there; the message says what to do."""


@dataclass(frozen=True)
class Term:
    name: str
    period: Period

    def text(self) -> str:
        """As a person types it back: ``autumn 2026=2026-09-01..2027-01-20``."""
        return f"{self.name}={self.period.first.isoformat()}..{self.period.last.isoformat()}"

    def stored(self) -> dict[str, str]:
        return {
            "name": self.name,
            "first": self.period.first.isoformat(),
            "last": self.period.last.isoformat(),
        }


def parse_terms(text: str) -> tuple[Term, ...]:
    """A person's line of terms, checked and in date order. TermRefused names the entry that
    is wrong (a missing ``=`` or ``..``, a date that is not one, an end before the start, a
    term of more than a year, a name used twice or reserved) or the two terms that overlap."""
    cleaned = text.strip()
    if cleaned.lower() in ("", NO_TERMS):
        return ()
    entries = [part.strip() for part in cleaned.split(";") if part.strip()]
    if len(entries) > MAX_TERMS:
        raise TermRefused(f"{len(entries)} terms are too many; give at most {MAX_TERMS}")
    return checked_terms([_entry(part) for part in entries])


def _entry(part: str) -> Term:
    match = _ENTRY.fullmatch(part)
    shown = part if len(part) <= 60 else part[:57] + "..."
    if match is None:
        raise TermRefused(
            f"{shown!r} is not a term; give each as NAME=FIRST..LAST, e.g. "
            "autumn 2026=2026-09-01..2027-01-20, and separate terms with ;"
        )
    name = " ".join(match.group("name").split())
    first = _day(match.group("first"), name, "first")
    last = _day(match.group("last"), name, "last")
    return _term(name, first, last)


def _day(text: str, name: str, which: str) -> date:
    cleaned = text.strip()
    try:
        if len(cleaned) != 10:
            raise ValueError(cleaned)
        return date.fromisoformat(cleaned)
    except ValueError:
        raise TermRefused(
            f"term {name!r}: its {which} day {cleaned!r} is not a date; give it like 2026-09-01"
        ) from None


def _term(name: str, first: date, last: date) -> Term:
    if not name:
        raise TermRefused("a term has no name; give each as NAME=FIRST..LAST")
    if len(name) > MAX_NAME:
        raise TermRefused(f"term name {name[:MAX_NAME]!r}... is too long; at most {MAX_NAME}")
    if name.lower() in (CURRENT, LAST, NO_TERMS):
        raise TermRefused(
            f"{name!r} cannot name a term: --term {CURRENT} and --term {LAST} mean the term "
            "around today and the one before it; give the term another name"
        )
    if last < first:
        raise TermRefused(
            f"term {name!r} ends ({last}) before it starts ({first}); give FIRST..LAST in order"
        )
    days = (last - first).days + 1
    if days > MAX_TERM_DAYS:
        raise TermRefused(
            f"term {name!r} has {days} days; a term is at most a year ({MAX_TERM_DAYS} days)"
        )
    return Term(name, Period(first, last))


def checked_terms(terms: Sequence[Term]) -> tuple[Term, ...]:
    """``terms`` in date order; TermRefused for a name used twice or two terms that overlap."""
    names: dict[str, str] = {}
    for term in terms:
        twin = names.get(term.name.casefold())
        if twin is not None:
            raise TermRefused(f"two terms are named {term.name!r}; give each term its own name")
        names[term.name.casefold()] = term.name
    ordered = tuple(sorted(terms, key=lambda t: (t.period.first, t.period.last)))
    for before, after in pairwise(ordered):
        if after.period.first <= before.period.last:
            raise TermRefused(
                f"terms {before.name!r} ({before.period.first}..{before.period.last}) and "
                f"{after.name!r} ({after.period.first}..{after.period.last}) overlap; a day "
                "belongs to one term at most"
            )
    return ordered


def stored_terms(value: object) -> tuple[Term, ...]:
    """The terms of a stored setting value; TermRefused when it is not one (a hand-edited
    row), so that reading the setting falls back to its default."""
    if not isinstance(value, list):
        raise TermRefused("the stored terms are not a list")
    terms = []
    for item in value:
        if not isinstance(item, dict) or not all(
            isinstance(item.get(key), str) for key in ("name", "first", "last")
        ):
            raise TermRefused("a stored term is not a name with two dates")
        name = str(item["name"])
        terms.append(
            _term(
                name, _day(str(item["first"]), name, "first"), _day(str(item["last"]), name, "last")
            )
        )
    return checked_terms(terms)


def terms_text(terms: Sequence[Term]) -> str:
    """The terms as a person types them (``none`` for none)."""
    return "; ".join(term.text() for term in terms) or NO_TERMS


def pick_term(terms: Sequence[Term], which: str, today: date) -> Term:
    """The term ``which`` names: ``current`` (the one ``today`` is in), ``last`` (the latest
    that ended before ``today``) or a name (without regard to case). TermRefused says what
    there is instead: no terms set, today between terms, or the names of the site's terms."""
    wanted = " ".join(which.split())
    if not terms:
        raise TermRefused(
            "the site has no terms yet; a supervisor or administrator sets them with "
            f"'main.py setting set terms \"{EXAMPLE}\"' (or on the Settings page)"
        )
    if wanted.lower() == CURRENT:
        for term in terms:
            if term.period.first <= today <= term.period.last:
                return term
        after = [t for t in terms if t.period.first > today]
        before = [t for t in terms if t.period.last < today]
        said = [f"today ({today}) is in no term"]
        if before:
            said.append(f"the last one, {before[-1].name!r}, ended {before[-1].period.last}")
        if after:
            said.append(f"{after[0].name!r} starts {after[0].period.first}")
        raise TermRefused("; ".join(said) + f"; give --term {LAST} or a term's name")
    if wanted.lower() == LAST:
        ended = [t for t in terms if t.period.last < today]
        if not ended:
            raise TermRefused(
                f"no term ended before today ({today}); the first, {terms[0].name!r}, "
                f"runs {terms[0].period.first}..{terms[0].period.last}"
            )
        return ended[-1]
    for term in terms:
        if term.name.casefold() == wanted.casefold():
            return term
    names = ", ".join(repr(t.name) for t in terms)
    raise TermRefused(
        f"there is no term {wanted!r}; the site's terms are {names} (or give {CURRENT} or {LAST})"
    )
