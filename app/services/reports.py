"""Running a report for an operator: office staff, supervisors and administrators may
(``Action.VIEW_REPORTS``: reports name tenants, their phones and their money). The Reports
screen and ``main.py report`` both come here; the reports themselves are read models
(``app.queries.reports``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from app.queries.report_table import ReportTable
from app.queries.reports import energy, load_safety, loss, meter_health, notices, revenue
from app.queries.reports.arrears import arrears_report
from app.queries.reports.period import Period
from app.queries.reports.revenue import revenue_report
from app.queries.reports.scope import Scope, scope_named
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.store.database import Database

Builder = Callable[[Database, Period, Scope, str | None, datetime | None], ReportTable]

REPORTS: dict[str, Builder] = {
    "arrears": lambda db, period, scope, _by, now: arrears_report(db, period, scope, now),
    "revenue": lambda db, period, scope, by, now: revenue_report(
        db, period, scope, by or "day", now
    ),
    "energy": lambda db, period, scope, by, now: energy.energy_report(
        db, period, scope, by or "room", now
    ),
    "load-safety": lambda db, period, scope, by, now: load_safety.load_safety_report(
        db, period, scope, by or "trip", now
    ),
    "loss": lambda db, period, scope, by, now: loss.loss_report(
        db, period, scope, by or "day", now
    ),
    "notices": lambda db, period, scope, by, now: notices.notices_report(
        db, period, scope, by or "notice", now
    ),
    "meter-health": lambda db, period, scope, by, now: meter_health.meter_health_report(
        db, period, scope, by or "meter", now
    ),
}
# What ``--by`` may say for each report that has groupings.
GROUPINGS: dict[str, tuple[str, ...]] = {
    "revenue": revenue.GROUPINGS,
    "energy": energy.GROUPINGS,
    "load-safety": load_safety.GROUPINGS,
    "loss": loss.GROUPINGS,
    "notices": notices.GROUPINGS,
    "meter-health": meter_health.GROUPINGS,
}


def scope_of(db: Database, building: str | None, text: str) -> Scope:
    """The scope a person typed in one box (a room, an account or a meter; ScopeRefused when
    it names none of them), within ``building``."""
    with db.session() as session:
        return scope_named(session, building, text)


class ReportRefused(ValueError):
    """A report that cannot be made as asked; the message says what to give instead."""


def run_report(
    db: Database,
    who: SignedIn,
    name: str,
    period: Period,
    scope: Scope,
    by: str | None = None,
    now: datetime | None = None,
) -> ReportTable:
    """The report ``name`` for ``who``: PermissionDenied unless his role may see reports,
    ReportRefused for an unknown report or a grouping it does not have; ScopeRefused,
    PeriodRefused and GroupingRefused (ValueErrors) say what was wrong with the rest."""
    who.require(Action.VIEW_REPORTS)
    builder = REPORTS.get(name)
    if builder is None:
        raise ReportRefused(f"there is no report {name!r}; the reports are {', '.join(REPORTS)}")
    if by is not None and by not in GROUPINGS.get(name, ()):
        if name not in GROUPINGS:
            raise ReportRefused(
                f"the {name} report has no groupings; leave out --by (it groups the "
                f"{' and '.join(GROUPINGS)} reports)"
            )
        raise ReportRefused(f"--by {by}: the {name} report groups by {', '.join(GROUPINGS[name])}")
    return builder(db, period, scope, by, now)
