"""The ledger's daily rollup (``ledger_day``): per site-local day, account and kind, how many
entries and their sum. ``add_to_days`` runs in the transaction of every entry written
(``services.ledger``, the demo's seed), so a report of a year reads one row per account, day
and kind instead of every hourly usage posting, and agrees with the ledger to the minor unit.

Rows are added to with one upsert per statement (``ON CONFLICT ... DO UPDATE``, on SQLite as
on PostgreSQL), so two PCs posting to one account on one day add up instead of overwriting. A
day is the site's local day when the entry was made (``site_zone``; UTC before a site exists).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Table
from sqlalchemy.orm import Session

from app.queries.site_facts import site_zone
from app.store.bulk_rows import upsert
from app.store.models import LedgerDay
from app.vocabulary import LedgerKind

# (account id, kind, created_at aware, amount in minor units)
EntryFact = tuple[int, LedgerKind, datetime, int]


def day_of(moment: datetime, zone: ZoneInfo) -> date:
    """The site-local day of an aware moment."""
    return moment.astimezone(zone).date()


def add_to_days(session: Session, facts: Iterable[EntryFact], zone: ZoneInfo | None = None) -> None:
    """Add entries to their days' rows, in the caller's transaction."""
    zone = zone or site_zone(session) or ZoneInfo("UTC")
    sums: dict[tuple[date, int, LedgerKind], list[int]] = defaultdict(lambda: [0, 0])
    for account_id, kind, created_at, amount in facts:
        cell = sums[(day_of(created_at, zone), account_id, kind)]
        cell[0] += 1
        cell[1] += amount
    if not sums:
        return
    rows = [
        {"day": day, "account_id": account, "kind": kind, "entries": n, "amount_minor": total}
        for (day, account, kind), (n, total) in sorted(sums.items())
    ]
    table: Table = LedgerDay.__table__  # type: ignore[assignment]
    insert = upsert(session, table)
    statement = insert.on_conflict_do_update(
        index_elements=["day", "account_id", "kind"],
        set_={
            "entries": table.c.entries + insert.excluded.entries,
            "amount_minor": table.c.amount_minor + insert.excluded.amount_minor,
        },
    )
    for start in range(0, len(rows), 500):
        session.execute(statement, rows[start : start + 500])
