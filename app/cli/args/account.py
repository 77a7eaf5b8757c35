"""``account list|show|recharge|statement|statements``."""

from __future__ import annotations

import argparse

from app.cli.options import Subparsers, add_user_option, group, lazy

RUN = "app.cli.account_commands"
STATEMENT = "app.cli.statement_command"


def register(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    account_sub = group(sub, "account", "prepaid accounts: list, show, recharge, statement(s)")

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

    statement = account_sub.add_parser(
        "statement",
        parents=[common],
        help="one account's monthly statement as an A4 PDF",
        description="Write one account's statement for one month of the site's calendar as an "
        "A4 PDF: the opening balance, every recharge, refund, correction and fee with its "
        "receipt number and the balance after it, the usage billed per meter, time-of-use "
        "period, tier and unit price, and the closing balance. Office staff, supervisors and "
        "administrators may.",
    )
    statement.add_argument("--account", required=True, metavar="NUMBER", help="the account number")
    statement.add_argument(
        "--month", required=True, metavar="YYYY-MM", help="the month, e.g. 2026-11"
    )
    statement.add_argument(
        "--output",
        metavar="FILE",
        help="where to write the PDF (default: statement-NUMBER-YYYY-MM.pdf in the current "
        "folder); an existing file is replaced",
    )
    add_user_option(statement)
    statement.set_defaults(handler=lazy(STATEMENT, "cmd_statement"))

    batch = account_sub.add_parser(
        "statements",
        parents=[common],
        help="the monthly statements of a building, a floor or the site, and one file to print",
        description="Write the statement of every account that was open at any time in one "
        "month of the site's calendar, in a building (or one floor of it) or the whole site: "
        "one A4 PDF per account named by its number and room, and one combined PDF of them all "
        "in the order of building and room, each from a new page. An account whose ledger does "
        "not add up is listed as refused with the reason; the others are still written (exit "
        "code 1 then). Office staff, supervisors and administrators may; the batch is audited.",
    )
    batch.add_argument("--month", required=True, metavar="YYYY-MM", help="the month, e.g. 2026-11")
    batch.add_argument("--building", metavar="NAME", help="a building, by code or name")
    batch.add_argument("--floor", type=int, metavar="N", help="one floor of --building")
    batch.add_argument(
        "--output-dir",
        dest="output",  # an output like every command's --output (the argument fuzz knows it)
        required=True,
        metavar="DIR",
        help="the folder for the PDFs (made if missing); files of the same names are replaced",
    )
    add_user_option(batch)
    batch.set_defaults(handler=lazy(STATEMENT, "cmd_statements"))
