"""``ledger verify``: check every money invariant; exit 1 naming what is wrong."""

from __future__ import annotations

import argparse
import json

from app.cli.context import fail, run_on_database
from app.services.ledger_verify import Anchor, VerifyReport, verify_ledger
from app.store.database import Database
from app.store.errors import StoreError
from app.store.migrate import require_current
from app.vocabulary import ExitCode


def cmd_verify(args: argparse.Namespace) -> int:
    anchors = [Anchor(number, prefix) for number, prefix in getattr(args, "anchor", [])]

    def verify(db: Database) -> VerifyReport:
        require_current(db)
        return verify_ledger(db, anchors)

    try:
        _, report = run_on_database(args, verify)
    except StoreError as exc:
        return fail(str(exc), exc.exit_code)
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "accounts": report.accounts,
                    "entries": report.entries,
                    "receipts": report.receipts,
                    "audit_events": report.audit_events,
                    "audit_head": report.head,
                    "sealed_from": report.sealed_from,
                    "cross_checked_from": report.started_at,
                    "anchors": [str(a) for a in anchors],
                    "problems": [{"what": p.what, "detail": p.detail} for p in report.problems],
                }
            )
        )
    elif report.ok:
        print(
            f"Ledger OK: {report.accounts} accounts, {report.entries} entries, "
            f"{report.receipts} receipts, {report.audit_events} audit events; "
            "every invariant holds."
        )
        print(_trail_line(report, anchors))
    else:
        print(f"Ledger has {len(report.problems)} problem(s):")
        for problem in report.problems:
            print(f"  {problem}")
    return 0 if report.ok else ExitCode.REFUSED


def _trail_line(report: VerifyReport, anchors: list[Anchor]) -> str:
    """What the audit trail proved: its head (to compare with the last receipt or shift
    report), from where it is sealed and cross-checked, and the anchors found."""
    parts = [f"Audit head {report.head}"]
    if report.sealed_from is None:
        parts.append("not sealed with a key (plain SHA-256: an edit re-hashed is not caught)")
    else:
        parts.append(f"sealed with the site's key from event {report.sealed_from}")
    if report.started_at is None:
        parts.append("rows not yet cross-checked (the trail starts at the next audited change)")
    else:
        parts.append(f"rows cross-checked from event {report.started_at}")
    if anchors:
        parts.append(f"{len(anchors)} anchor(s) found in the trail")
    return "; ".join(parts) + "."
