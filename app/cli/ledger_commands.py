"""``ledger verify``: check every money invariant; exit 1 naming what is wrong."""

from __future__ import annotations

import argparse
import json

from app.cli.context import fail, run_on_database
from app.services.ledger_verify import VerifyReport, verify_ledger
from app.store.database import Database
from app.store.errors import StoreError
from app.store.migrate import require_current
from app.vocabulary import ExitCode


def cmd_verify(args: argparse.Namespace) -> int:
    def verify(db: Database) -> VerifyReport:
        require_current(db)
        return verify_ledger(db)

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
    else:
        print(f"Ledger has {len(report.problems)} problem(s):")
        for problem in report.problems:
            print(f"  {problem}")
    return 0 if report.ok else ExitCode.REFUSED
