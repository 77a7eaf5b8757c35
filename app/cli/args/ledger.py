"""``ledger verify``."""

from __future__ import annotations

import argparse
import string

from app.cli.options import Subparsers, group, lazy

ANCHOR_HEX_MIN = 6


def anchor(text: str) -> tuple[int, str]:
    """``N:HEX`` as printed on a receipt, a shift report or beside a backup: an audit event's
    number and the first hex digits of its hash."""
    number, _, prefix = text.strip().partition(":")
    prefix = prefix.strip().lower()
    if (
        not number.isdigit()
        or len(number) > 18
        or int(number) < 1
        or not ANCHOR_HEX_MIN <= len(prefix) <= 64
        or any(c not in string.hexdigits for c in prefix)
    ):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an anchor; give it as printed, e.g. 57:3fa09c1d2e4b (the event "
            f"number, a colon and at least {ANCHOR_HEX_MIN} hex digits)"
        )
    return int(number), prefix


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    ledger_sub = group(sub, "ledger", "the money ledger")
    verify = ledger_sub.add_parser(
        "verify",
        parents=[common],
        help="check balances, running balances, reversals, receipt numbers, usage postings, "
        "the audit trail's sealed chain and every receipt, entry, operator, setting, tariff "
        "and meter reading against it",
    )
    verify.add_argument("--json", action="store_true", help="print one JSON object")
    verify.add_argument(
        "--anchor",
        metavar="N:HEX",
        type=anchor,
        action="append",
        default=[],
        help="an audit anchor printed on a receipt or shift report or written beside a backup "
        "(e.g. 57:3fa09c1d2e4b): check that event N still has that hash (repeatable)",
    )
    verify.set_defaults(handler=lazy("app.cli.ledger_commands", "cmd_verify"))
