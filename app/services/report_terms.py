"""Which of the site's terms a report means: ``main.py report --term NAME|current|last`` and
the Reports screen's "This term" / "Last term" come here. "Today" is the site's day (a PC in
another zone still picks the site's term), the terms are the ``terms`` setting
(``services.settings``), the choosing is ``queries.reports.terms.pick_term``."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from app.queries.reports.terms import Term, pick_term
from app.queries.site_facts import site_zone
from app.services.settings import site_terms_setting
from app.store.database import Database


def site_today(zone: ZoneInfo | None) -> date:
    """The site's date now (this PC's when the site has no zone yet)."""
    return datetime.now(zone or datetime.now().astimezone().tzinfo).date()


def chosen_term(db: Database, which: str, today: date | None = None) -> Term:
    """The term ``which`` names (``current``, ``last`` or a term's name) on the site's
    ``today``; TermRefused (a ValueError) says what there is instead."""
    with db.session() as session:
        terms = site_terms_setting(session)
        zone = site_zone(session)
    return pick_term(terms, which, today or site_today(zone))
