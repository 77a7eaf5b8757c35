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


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    ledger = sub.add_parser("ledger", help="the money ledger")
    ledger_sub = ledger.add_subparsers(title="ledger commands", metavar="COMMAND", required=True)
    verify = ledger_sub.add_parser(
        "verify",
        parents=[common],
        help="check balances, running balances, reversals, receipt numbers, usage postings and "
        "the audit trail's chain",
    )
    verify.add_argument("--demo", action="store_true", help="the demo data folder")
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    verify.set_defaults(handler=cmd_verify)


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
