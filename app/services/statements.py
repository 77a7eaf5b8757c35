"""Monthly account statements for an operator: office staff, supervisors and administrators may
(``Action.VIEW_REPORTS``: a statement names the tenant and every movement of his money;
cashiers answer a balance question from the counter screen instead). ``main.py account
statement`` and the console both come here; the figures are a read model
(``app.queries.statement``), the paper is ``app.documents.statement_pdf``."""

from __future__ import annotations

import re
from datetime import datetime

from app.queries.reports.period import Period
from app.queries.statement import StatementRefused, account_statement
from app.queries.statement_data import Statement
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.store.database import Database

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_UNSAFE_IN_FILE_NAME = re.compile(r"[^0-9A-Za-z._-]+")


def parse_month(text: str, option: str = "--month") -> Period:
    """``2026-11`` as the month of November 2026 in the site's calendar; StatementRefused
    naming ``option`` for anything else."""
    match = _MONTH.fullmatch(text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
        raise StatementRefused(f"{option} {text.strip()!r} is not a month: give it like 2026-11")
    return Period.month(int(match.group(1)), int(match.group(2)))


def statement_for(
    db: Database, who: SignedIn, account_number: str, month: str, now: datetime | None = None
) -> Statement:
    """The statement of one account for one month (``YYYY-MM``) for ``who``: PermissionDenied
    unless his role may view reports; StatementRefused for a month that cannot be read, an
    unknown account, or a ledger that does not add up."""
    who.require(Action.VIEW_REPORTS)
    period = parse_month(month)
    return account_statement(db, account_number, period, now)


def statement_file_name(statement: Statement) -> str:
    """``statement-100001-2026-11.pdf``: where a statement is saved unless told otherwise
    (characters a file name cannot safely hold become ``_``)."""
    account = _UNSAFE_IN_FILE_NAME.sub("_", statement.account_number) or "account"
    first = statement.period.first
    return f"statement-{account}-{first.year:04d}-{first.month:02d}.pdf"
