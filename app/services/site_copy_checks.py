"""The checks after a site was copied to PostgreSQL: every table holds as many rows as the
source's, ``ledger verify`` passes on the copy and finds what it found on the source, and
the audit chain ends in the same event with the same hash on both sides."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Table, select
from sqlalchemy.exc import SQLAlchemyError

from app.services.ledger_verify import VerifyReport, verify_ledger
from app.store.database import Database
from app.store.errors import StoreError
from app.store.failures import explained
from app.store.models import AuditEvent
from app.store.table_copy import row_counts

KEY_CHECK = "audit key"  # the key could not be put where the copy needs it (site_copy)


@dataclass(frozen=True)
class CopyCheck:
    """One check of a copy: what was checked, whether it held, and what was found."""

    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{self.name}: {self.detail}"


def ledger_summary(report: VerifyReport) -> str:
    """What ``ledger verify`` looked at, in a few words."""
    return (
        f"{report.accounts} accounts, {report.entries} entries, {report.receipts} receipts, "
        f"{report.audit_events} audit events"
    )


def check_copy(
    source: Database, target: Database, tables: Sequence[Table], on_source: VerifyReport
) -> list[CopyCheck]:
    """Every check of the copy on ``target`` against ``source``; ``on_source`` is ``ledger
    verify`` of the source (taken before copying: nothing of ours writes to it)."""
    return [
        _run("row counts", lambda: _row_counts(source, target, tables)),
        CopyCheck(
            "ledger verify on the source",
            on_source.ok,
            f"{ledger_summary(on_source)}; every invariant holds"
            if on_source.ok
            else "; ".join(str(p) for p in on_source.problems),
        ),
        _run("ledger verify on the copy", lambda: _ledger_on_copy(target, on_source)),
        _run("audit chain", lambda: _audit_heads(source, target)),
    ]


def _run(name: str, check: Callable[[], CopyCheck]) -> CopyCheck:
    """A check that could not be run (the server went away, a busy database...) failed."""
    try:
        return check()
    except (SQLAlchemyError, StoreError) as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
        return CopyCheck(name, False, f"could not be checked ({reason})")


def _row_counts(source: Database, target: Database, tables: Sequence[Table]) -> CopyCheck:
    with source.engine.connect() as conn:
        here = row_counts(conn, tables)
    with explained(target), target.engine.connect() as conn:
        there = row_counts(conn, tables)
    differ = [
        f"{name} {count} in the source, {there[name]} in the copy"
        for name, count in here.items()
        if there[name] != count
    ]
    if differ:
        return CopyCheck(
            "row counts",
            False,
            "; ".join(differ) + " (did a console or 'serve' write to the site while it was "
            "copied? stop them all first)",
        )
    return CopyCheck(
        "row counts", True, f"all {len(tables)} tables hold as many rows as in the source"
    )


def _ledger_on_copy(target: Database, on_source: VerifyReport) -> CopyCheck:
    name = "ledger verify on the copy"
    with explained(target):
        report = verify_ledger(target)
    if not report.ok:
        return CopyCheck(name, False, "; ".join(str(p) for p in report.problems))
    seen = (report.accounts, report.entries, report.receipts, report.audit_events, report.head)
    expected = (
        on_source.accounts,
        on_source.entries,
        on_source.receipts,
        on_source.audit_events,
        on_source.head,
    )
    if seen != expected:
        return CopyCheck(
            name,
            False,
            f"it found {ledger_summary(report)} and audit head {report.head}, the source "
            f"{ledger_summary(on_source)} and audit head {on_source.head}",
        )
    return CopyCheck(name, True, f"{ledger_summary(report)}; every invariant holds")


def _audit_heads(source: Database, target: Database) -> CopyCheck:
    name = "audit chain"
    here = _last_event(source)
    with explained(target):
        there = _last_event(target)
    if here != there:
        return CopyCheck(
            name,
            False,
            f"the source's trail ends in {_shown(here)}, the copy's in {_shown(there)}",
        )
    if here is None:
        return CopyCheck(name, True, "neither side has an audit event yet")
    return CopyCheck(
        name, True, f"both end in event {here[0]} with the same hash ({here[1][:16]}...)"
    )


def _last_event(db: Database) -> tuple[int, str] | None:
    with db.session() as session:
        row = session.execute(
            select(AuditEvent.id, AuditEvent.entry_hash).order_by(AuditEvent.id.desc()).limit(1)
        ).first()
    return None if row is None else (row[0], row[1])


def _shown(event: tuple[int, str] | None) -> str:
    return "no event" if event is None else f"event {event[0]} ({event[1][:16]}...)"
