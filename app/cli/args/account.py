"""``account list|show|recharge``."""

from __future__ import annotations

import argparse

from app.cli.options import Subparsers, add_user_option, group, lazy

RUN = "app.cli.account_commands"


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    account_sub = group(sub, "account", "prepaid accounts: list, show, recharge")

    listing = account_sub.add_parser("list", parents=[common], help="every account, one a line")
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(handler=lazy(RUN, "cmd_list"))

    show = account_sub.add_parser("show", parents=[common], help="one account in full")
    show.add_argument("--account", required=True, metavar="NUMBER", help="the account number")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(handler=lazy(RUN, "cmd_show"))

    pay = account_sub.add_parser(
        "recharge",
        parents=[common],
        help="credit an account and issue a receipt",
        description="Credit an account with money taken at the counter and issue a numbered "
        "receipt (saved as PDF in the data folder). With --key, running the command again "
        "(after a time-out or a crash) prints the first receipt and credits nothing. A run that "
        "exits non-zero credited nothing; once the money is in, a receipt that cannot be "
        "written is a warning and the exit code is 0.",
    )
    pay.add_argument("--account", required=True, metavar="NUMBER", help="the account number")
    pay.add_argument("--amount", required=True, metavar="AMOUNT", help="e.g. 50 or 50.00")
    pay.add_argument(
        "--method", required=True, choices=("cash", "card", "transfer", "campus"), help="payment"
    )
    pay.add_argument(
        "--key",
        metavar="KEY",
        help="idempotency key: the same key with the same account, amount, method and user "
        "never credits twice; with anything else it is refused. Not empty, at most 80 "
        "characters, not beginning with 'fee:' (MeterDesk's own). Default: a new key",
    )
    pay.add_argument(
        "--receipt",
        metavar="PATH",
        help="also copy the receipt PDF to PATH (its folder must exist and be writable: "
        "checked before any money moves)",
    )
    add_user_option(pay)
    pay.set_defaults(handler=lazy(RUN, "cmd_recharge"))
