"""``ledger verify``."""

from __future__ import annotations

import argparse

from app.cli.options import Subparsers, group, lazy


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    ledger_sub = group(sub, "ledger", "the money ledger")
    verify = ledger_sub.add_parser(
        "verify",
        parents=[common],
        help="check balances, running balances, reversals, receipt numbers, usage postings and "
        "the audit trail's chain",
    )
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    verify.set_defaults(handler=lazy("app.cli.ledger_commands", "cmd_verify"))
